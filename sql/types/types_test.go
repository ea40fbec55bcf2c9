package types

import "testing"

// Expected strings follow Flink's DESCRIBE output (LogicalType
// asSummaryString), e.g. the "Data Types" page
// https://nightlies.apache.org/flink/flink-docs-stable/docs/dev/table/types/.
func TestString(t *testing.T) {
	for _, tc := range []struct {
		t    Type
		want string
	}{
		{IntType().AsNotNull(), "INT NOT NULL"},
		{StringType(), "STRING"},
		{VarCharType(10), "VARCHAR(10)"},
		{BytesType(), "BYTES"},
		{BinaryType(3), "BINARY(3)"},
		{DecimalType(10, 2), "DECIMAL(10, 2)"},
		{TimestampType(3).WithAttr(Rowtime), "TIMESTAMP(3) *ROWTIME*"},
		{TimestampLTZType(3).AsNotNull().WithAttr(Proctime), "TIMESTAMP_LTZ(3) NOT NULL *PROCTIME*"},
		{TimeType(0), "TIME(0)"},
		{ArrayType(IntType().AsNotNull()), "ARRAY<INT NOT NULL>"},
		{MapType(StringType(), BigIntType()), "MAP<STRING, BIGINT>"},
		{MultisetType(StringType()), "MULTISET<STRING>"},
		{RowType(NewField("a", IntType()), NewField("b b", StringType())), "ROW<`a` INT, `b b` STRING>"},
		{DayTimeInterval(ResSecond, 2, 3), "INTERVAL SECOND(3)"},
		{DayTimeInterval(ResDayToSecond, 2, 6), "INTERVAL DAY(2) TO SECOND(6)"},
		{YearMonthInterval(ResYearToMonth, 2), "INTERVAL YEAR(2) TO MONTH"},
		{YearMonthInterval(ResMonth, 2), "INTERVAL MONTH"},
		{NullType(), "NULL"},
	} {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestCommonType(t *testing.T) {
	for _, tc := range []struct {
		in   []Type
		want string // "" for none
	}{
		// The example of Flink's LogicalTypeMerging.findCommonType.
		{[]Type{IntType(), BigIntType(), DecimalType(2, 2)}, "DECIMAL(21, 2)"},
		{[]Type{IntType().AsNotNull(), BigIntType().AsNotNull()}, "BIGINT NOT NULL"},
		{[]Type{IntType().AsNotNull(), NullType()}, "INT"},
		{[]Type{TinyIntType(), FloatType()}, "FLOAT"},
		{[]Type{DecimalType(10, 2), FloatType()}, "DOUBLE"},
		{[]Type{CharType(1), CharType(2)}, "VARCHAR(2)"},
		{[]Type{CharType(2), CharType(2)}, "CHAR(2)"},
		{[]Type{CharType(3), StringType()}, "STRING"},
		{[]Type{TimestampType(3), TimestampLTZType(6)}, "TIMESTAMP_LTZ(6)"},
		// TIMESTAMP casts to DATE implicitly, not the reverse: Flink picks DATE.
		{[]Type{DateType(), TimestampType(3)}, "DATE"},
		{[]Type{IntType(), StringType()}, ""},
		{[]Type{BooleanType(), IntType()}, ""},
		{[]Type{NullType(), NullType()}, ""},
		{[]Type{ArrayType(IntType()), ArrayType(DoubleType())}, "ARRAY<DOUBLE>"},
		{[]Type{DayTimeInterval(ResDay, 2, 6), DayTimeInterval(ResSecond, 2, 3)}, "INTERVAL DAY(2) TO SECOND(6)"},
		{[]Type{DecimalType(38, 10), BigIntType()}, "DECIMAL(38, 10)"},
	} {
		got, ok := CommonType(tc.in...)
		if !ok {
			if tc.want != "" {
				t.Errorf("%v: no common type, want %s", tc.in, tc.want)
			}
			continue
		}
		if got.String() != tc.want {
			t.Errorf("%v: got %s, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCasts(t *testing.T) {
	type c struct {
		from, to           Type
		implicit, explicit bool
	}
	for _, tc := range []c{
		{IntType(), BigIntType(), true, true},
		{BigIntType(), IntType(), false, true},
		{IntType(), DecimalType(5, 0), true, true},
		{DoubleType(), DecimalType(5, 0), true, true},
		{DecimalType(5, 2), FloatType(), true, true},
		{StringType(), IntType(), false, true},
		{BooleanType(), DateType(), false, false},
		{BooleanType(), IntType(), false, true},
		{DoubleType(), BooleanType(), false, false},
		{IntType(), BooleanType(), false, true},
		{TimestampType(3), DateType(), true, true},
		{DateType(), TimestampType(3), false, true},
		{StringType(), BytesType(), false, true},
		{BytesType(), StringType(), false, true},
		{ArrayType(IntType()), ArrayType(BigIntType()), true, true},
		{ArrayType(IntType()), StringType(), false, true},
		{ArrayType(IntType()), MapType(IntType(), IntType()), false, false},
		{NullType(), ArrayType(IntType()), true, true},
		{IntType(), IntType().AsNotNull(), false, false},
		{DayTimeInterval(ResSecond, 2, 3), BigIntType(), false, true},
		{DayTimeInterval(ResDayToSecond, 2, 3), BigIntType(), false, false},
	} {
		if got := CanImplicitCast(tc.from, tc.to); got != tc.implicit {
			t.Errorf("implicit %s -> %s: got %v", tc.from, tc.to, got)
		}
		if got := CanExplicitCast(tc.from, tc.to); got != tc.explicit {
			t.Errorf("explicit %s -> %s: got %v", tc.from, tc.to, got)
		}
	}
	if err := CheckCast(BooleanType(), DateType()); err == nil || err.Error() != "Cast function cannot convert value of type BOOLEAN to type DATE" {
		t.Errorf("CheckCast: %v", err)
	}
	if err := CheckCast(BigIntType(), TimestampType(3)); err == nil {
		t.Errorf("numeric to TIMESTAMP must be refused")
	}
	if err := CheckCast(BigIntType(), TimestampLTZType(3)); err != nil {
		t.Errorf("numeric to TIMESTAMP_LTZ: %v", err)
	}
}

func TestDecimalRules(t *testing.T) {
	for _, tc := range []struct {
		got  Type
		want string
	}{
		{DecimalPlus(10, 2, 5, 3), "DECIMAL(12, 3)"},
		{DecimalTimes(10, 2, 5, 3), "DECIMAL(16, 5)"},
		{DecimalDivide(10, 2, 5, 3), "DECIMAL(19, 8)"},
		{DecimalMod(10, 2, 5, 3), "DECIMAL(5, 3)"},
		// The adjustment example in Flink's adjustPrecisionScale comment.
		{DecimalPlus(38, 8, 32, 8), "DECIMAL(38, 7)"},
		{DecimalTimes(38, 10, 38, 10), "DECIMAL(38, 6)"},
		{SumType(DecimalType(10, 2)), "DECIMAL(38, 2)"},
		{AvgType(DecimalType(10, 2)), "DECIMAL(38, 6)"},
		{AvgType(DecimalType(20, 8)), "DECIMAL(38, 8)"},
		{AvgType(IntType()), "INT"},
		{DecimalRound(10, 4, 2), "DECIMAL(9, 2)"},
	} {
		if tc.got.String() != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		op   ArithOp
		a, b Type
		want string
	}{
		{Plus, TinyIntType().AsNotNull(), TinyIntType().AsNotNull(), "TINYINT NOT NULL"},
		{Plus, IntType(), BigIntType().AsNotNull(), "BIGINT"},
		{Divide, IntType(), IntType(), "INT"},
		{Plus, IntType(), DoubleType(), "DOUBLE"},
		{Plus, FloatType(), IntType(), "FLOAT"},
		{Times, DecimalType(10, 2), IntType(), "DECIMAL(21, 2)"},
		{Plus, TimestampType(3), DayTimeInterval(ResSecond, 2, 3), "TIMESTAMP(3)"},
		{Mod, BigIntType(), IntType(), "INT"},
	} {
		got, err := ArithmeticType(tc.op, tc.a, tc.b)
		if err != nil || got.String() != tc.want {
			t.Errorf("%s %s %s: got %s, %v; want %s", tc.a, tc.op, tc.b, got, err, tc.want)
		}
	}
	if _, err := ArithmeticType(Plus, BooleanType(), IntType()); err == nil || err.Error() != "Cannot apply '+' to arguments of type 'BOOLEAN' and 'INT'" {
		t.Errorf("BOOLEAN + INT: %v", err)
	}
}
