package types

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the root of a logical type (Flink's LogicalTypeRoot).
type Kind uint8

// The kinds, in Flink's order of LogicalTypeRoot where it has one.
const (
	Null Kind = iota
	Boolean
	TinyInt
	SmallInt
	Int
	BigInt
	Float
	Double
	Decimal
	Char
	VarChar
	Binary
	VarBinary
	Date
	Time
	Timestamp    // TIMESTAMP(p): a local date-time without a time zone
	TimestampLTZ // TIMESTAMP_LTZ(p): an instant, shown in the session time zone
	IntervalYearMonth
	IntervalDayTime
	Array
	Map
	Multiset
	Row
	numKinds
)

var kindNames = [numKinds]string{
	Null: "NULL", Boolean: "BOOLEAN", TinyInt: "TINYINT", SmallInt: "SMALLINT", Int: "INT",
	BigInt: "BIGINT", Float: "FLOAT", Double: "DOUBLE", Decimal: "DECIMAL", Char: "CHAR",
	VarChar: "VARCHAR", Binary: "BINARY", VarBinary: "VARBINARY", Date: "DATE", Time: "TIME",
	Timestamp: "TIMESTAMP", TimestampLTZ: "TIMESTAMP_LTZ", IntervalYearMonth: "INTERVAL YEAR TO MONTH",
	IntervalDayTime: "INTERVAL DAY TO SECOND", Array: "ARRAY", Map: "MAP", Multiset: "MULTISET", Row: "ROW",
}

// String returns the kind's SQL name.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Limits of the parameterised types, as in Flink.
const (
	MaxLength            = 2147483647 // CHAR, VARCHAR, BINARY, VARBINARY
	MaxDecimalPrecision  = 38
	DefaultDecimalPrec   = 10
	MaxTimePrecision     = 9
	DefaultTimePrecision = 0 // TIME
	DefaultTSPrecision   = 6 // TIMESTAMP and TIMESTAMP_LTZ
	DefaultIntervalLead  = 2 // YEAR(2), DAY(2)
	DefaultFractional    = 6 // SECOND(6)
)

// TimeAttr marks a TIMESTAMP or TIMESTAMP_LTZ column as a time attribute.
type TimeAttr uint8

// Time attributes.
const (
	Regular  TimeAttr = iota
	Rowtime           // an event-time attribute (the column has a watermark)
	Proctime          // a processing-time attribute (PROCTIME())
)

// Resolution is the field range of an INTERVAL type.
type Resolution uint8

// Interval resolutions (Flink's YearMonthResolution and DayTimeResolution).
const (
	ResYear Resolution = iota
	ResYearToMonth
	ResMonth
	ResDay
	ResDayToHour
	ResDayToMinute
	ResDayToSecond
	ResHour
	ResHourToMinute
	ResHourToSecond
	ResMinute
	ResMinuteToSecond
	ResSecond
)

// singleField reports whether an interval of resolution r has one field
// (only those cast to and from exact numbers).
func (r Resolution) singleField() bool {
	switch r {
	case ResYear, ResMonth, ResDay, ResHour, ResMinute, ResSecond:
		return true
	}
	return false
}

// Type is a logical type with its nullability. The zero Type is the
// nullable NULL type. Types are values: copy them freely; the slices and
// pointers inside are never modified after construction.
type Type struct {
	Kind    Kind
	NotNull bool
	// Precision is DECIMAL's precision, the length of CHAR, VARCHAR, BINARY
	// and VARBINARY, the fractional-second precision of TIME, TIMESTAMP and
	// TIMESTAMP_LTZ, and the leading-field precision of intervals (YEAR(p),
	// DAY(p)).
	Precision int
	// Scale is DECIMAL's scale and the fractional precision of a day-time
	// interval (SECOND(p)).
	Scale int
	Res   Resolution // intervals only
	Attr  TimeAttr   // TIMESTAMP and TIMESTAMP_LTZ only
	Elem  *Type      // ARRAY and MULTISET: the element; MAP: the key
	Value *Type      // MAP: the value
	// Fields are a ROW's fields.
	Fields []Field
}

// Field is a field of a ROW type.
type Field struct {
	Name        string
	Type        Type
	Description string
}

// Constructors. Each returns a nullable type; use NotNull() for NOT NULL.

func NullType() Type           { return Type{Kind: Null} }
func BooleanType() Type        { return Type{Kind: Boolean} }
func TinyIntType() Type        { return Type{Kind: TinyInt} }
func SmallIntType() Type       { return Type{Kind: SmallInt} }
func IntType() Type            { return Type{Kind: Int} }
func BigIntType() Type         { return Type{Kind: BigInt} }
func FloatType() Type          { return Type{Kind: Float} }
func DoubleType() Type         { return Type{Kind: Double} }
func DateType() Type           { return Type{Kind: Date} }
func StringType() Type         { return Type{Kind: VarChar, Precision: MaxLength} }
func BytesType() Type          { return Type{Kind: VarBinary, Precision: MaxLength} }
func CharType(n int) Type      { return Type{Kind: Char, Precision: n} }
func VarCharType(n int) Type   { return Type{Kind: VarChar, Precision: n} }
func BinaryType(n int) Type    { return Type{Kind: Binary, Precision: n} }
func VarBinaryType(n int) Type { return Type{Kind: VarBinary, Precision: n} }
func TimeType(p int) Type      { return Type{Kind: Time, Precision: p} }
func TimestampType(p int) Type { return Type{Kind: Timestamp, Precision: p} }
func TimestampLTZType(p int) Type {
	return Type{Kind: TimestampLTZ, Precision: p}
}

// DecimalType is DECIMAL(p, s).
func DecimalType(p, s int) Type { return Type{Kind: Decimal, Precision: p, Scale: s} }

// YearMonthInterval is an INTERVAL YEAR(p) [TO MONTH] or INTERVAL MONTH type.
func YearMonthInterval(res Resolution, yearPrecision int) Type {
	return Type{Kind: IntervalYearMonth, Res: res, Precision: yearPrecision}
}

// DayTimeInterval is an INTERVAL DAY(p) TO SECOND(f) type (or one of its
// sub-ranges, by res).
func DayTimeInterval(res Resolution, dayPrecision, fractional int) Type {
	return Type{Kind: IntervalDayTime, Res: res, Precision: dayPrecision, Scale: fractional}
}

// ArrayType is ARRAY<elem>.
func ArrayType(elem Type) Type { return Type{Kind: Array, Elem: &elem} }

// MultisetType is MULTISET<elem>.
func MultisetType(elem Type) Type { return Type{Kind: Multiset, Elem: &elem} }

// MapType is MAP<key, value>.
func MapType(key, value Type) Type { return Type{Kind: Map, Elem: &key, Value: &value} }

// RowType is ROW<fields...>.
func RowType(fields ...Field) Type { return Type{Kind: Row, Fields: fields} }

// NewField is a ROW field.
func NewField(name string, t Type) Field { return Field{Name: name, Type: t} }

// Nullable returns t allowing NULL.
func (t Type) Nullable() Type { t.NotNull = false; return t }

// AsNotNull returns t as NOT NULL.
func (t Type) AsNotNull() Type { t.NotNull = true; return t }

// WithNullable returns t with the given nullability.
func (t Type) WithNullable(nullable bool) Type { t.NotNull = !nullable; return t }

// IsNullable reports whether t admits NULL.
func (t Type) IsNullable() bool { return !t.NotNull }

// WithAttr returns a TIMESTAMP or TIMESTAMP_LTZ marked as a time attribute.
func (t Type) WithAttr(a TimeAttr) Type { t.Attr = a; return t }

// IsTimeAttribute reports whether t is a rowtime or proctime attribute.
func (t Type) IsTimeAttribute() bool { return t.Attr != Regular }

// Families.

// IsNumeric reports TINYINT..DOUBLE and DECIMAL.
func (t Type) IsNumeric() bool { return t.Kind >= TinyInt && t.Kind <= Decimal }

// IsExactNumeric reports integers and DECIMAL.
func (t Type) IsExactNumeric() bool {
	return t.IsInteger() || t.Kind == Decimal
}

// IsInteger reports TINYINT, SMALLINT, INT and BIGINT.
func (t Type) IsInteger() bool { return t.Kind >= TinyInt && t.Kind <= BigInt }

// IsApproximate reports FLOAT and DOUBLE.
func (t Type) IsApproximate() bool { return t.Kind == Float || t.Kind == Double }

// IsCharString reports CHAR and VARCHAR.
func (t Type) IsCharString() bool { return t.Kind == Char || t.Kind == VarChar }

// IsBinaryString reports BINARY and VARBINARY.
func (t Type) IsBinaryString() bool { return t.Kind == Binary || t.Kind == VarBinary }

// IsTimestamp reports TIMESTAMP and TIMESTAMP_LTZ.
func (t Type) IsTimestamp() bool { return t.Kind == Timestamp || t.Kind == TimestampLTZ }

// IsDatetime reports DATE, TIME, TIMESTAMP and TIMESTAMP_LTZ.
func (t Type) IsDatetime() bool { return t.Kind == Date || t.Kind == Time || t.IsTimestamp() }

// IsInterval reports both interval kinds.
func (t Type) IsInterval() bool { return t.Kind == IntervalYearMonth || t.Kind == IntervalDayTime }

// IsConstructed reports ARRAY, MAP, MULTISET and ROW.
func (t Type) IsConstructed() bool { return t.Kind >= Array && t.Kind <= Row }

// IntegerPrecision is the number of decimal digits of an integer kind
// (TINYINT 3, SMALLINT 5, INT 10, BIGINT 19), the precision of a DECIMAL it
// converts to without loss.
func (t Type) IntegerPrecision() int {
	switch t.Kind {
	case TinyInt:
		return 3
	case SmallInt:
		return 5
	case Int:
		return 10
	case BigInt:
		return 19
	case Decimal:
		return t.Precision
	}
	return 0
}

// AsDecimal is the DECIMAL type an exact numeric converts to without loss.
func (t Type) AsDecimal() Type {
	if t.Kind == Decimal {
		return t
	}
	return Type{Kind: Decimal, Precision: t.IntegerPrecision(), NotNull: t.NotNull}
}

// Equal reports whether a and b are the same type, nullability and time
// attribute included.
func (a Type) Equal(b Type) bool {
	if a.Kind != b.Kind || a.NotNull != b.NotNull || a.Precision != b.Precision || a.Scale != b.Scale ||
		a.Res != b.Res || a.Attr != b.Attr || len(a.Fields) != len(b.Fields) {
		return false
	}
	if (a.Elem == nil) != (b.Elem == nil) || (a.Value == nil) != (b.Value == nil) {
		return false
	}
	if a.Elem != nil && !a.Elem.Equal(*b.Elem) {
		return false
	}
	if a.Value != nil && !a.Value.Equal(*b.Value) {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i].Name != b.Fields[i].Name || !a.Fields[i].Type.Equal(b.Fields[i].Type) {
			return false
		}
	}
	return true
}

// EqualIgnoringNull is Equal with nullability (at the top level) and time
// attributes ignored.
func (a Type) EqualIgnoringNull(b Type) bool {
	a.NotNull, b.NotNull = false, false
	a.Attr, b.Attr = Regular, Regular
	return a.Equal(b)
}

// String prints t as Flink's DESCRIBE and EXPLAIN do (the summary string):
// VARCHAR(2147483647) is STRING, VARBINARY(2147483647) is BYTES,
// TIMESTAMP_LTZ(3), ROW<`a` INT, `b` STRING>, INT NOT NULL,
// TIMESTAMP(3) *ROWTIME*.
func (t Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t Type) write(b *strings.Builder) {
	switch t.Kind {
	case Null:
		b.WriteString("NULL")
		return // NULL has no NOT NULL form
	case Decimal:
		fmt.Fprintf(b, "DECIMAL(%d, %d)", t.Precision, t.Scale)
	case Char:
		fmt.Fprintf(b, "CHAR(%d)", t.Precision)
	case VarChar:
		if t.Precision == MaxLength {
			b.WriteString("STRING")
		} else {
			fmt.Fprintf(b, "VARCHAR(%d)", t.Precision)
		}
	case Binary:
		fmt.Fprintf(b, "BINARY(%d)", t.Precision)
	case VarBinary:
		if t.Precision == MaxLength {
			b.WriteString("BYTES")
		} else {
			fmt.Fprintf(b, "VARBINARY(%d)", t.Precision)
		}
	case Time:
		fmt.Fprintf(b, "TIME(%d)", t.Precision)
	case Timestamp:
		fmt.Fprintf(b, "TIMESTAMP(%d)", t.Precision)
	case TimestampLTZ:
		fmt.Fprintf(b, "TIMESTAMP_LTZ(%d)", t.Precision)
	case IntervalYearMonth:
		switch t.Res {
		case ResYear:
			fmt.Fprintf(b, "INTERVAL YEAR(%d)", t.Precision)
		case ResMonth:
			b.WriteString("INTERVAL MONTH")
		default:
			fmt.Fprintf(b, "INTERVAL YEAR(%d) TO MONTH", t.Precision)
		}
	case IntervalDayTime:
		p, f := t.Precision, t.Scale
		switch t.Res {
		case ResDay:
			fmt.Fprintf(b, "INTERVAL DAY(%d)", p)
		case ResDayToHour:
			fmt.Fprintf(b, "INTERVAL DAY(%d) TO HOUR", p)
		case ResDayToMinute:
			fmt.Fprintf(b, "INTERVAL DAY(%d) TO MINUTE", p)
		case ResHour:
			b.WriteString("INTERVAL HOUR")
		case ResHourToMinute:
			b.WriteString("INTERVAL HOUR TO MINUTE")
		case ResHourToSecond:
			fmt.Fprintf(b, "INTERVAL HOUR TO SECOND(%d)", f)
		case ResMinute:
			b.WriteString("INTERVAL MINUTE")
		case ResMinuteToSecond:
			fmt.Fprintf(b, "INTERVAL MINUTE TO SECOND(%d)", f)
		case ResSecond:
			fmt.Fprintf(b, "INTERVAL SECOND(%d)", f)
		default:
			fmt.Fprintf(b, "INTERVAL DAY(%d) TO SECOND(%d)", p, f)
		}
	case Array, Multiset:
		b.WriteString(t.Kind.String())
		b.WriteByte('<')
		t.Elem.write(b)
		b.WriteByte('>')
	case Map:
		b.WriteString("MAP<")
		t.Elem.write(b)
		b.WriteString(", ")
		t.Value.write(b)
		b.WriteByte('>')
	case Row:
		b.WriteString("ROW<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('`')
			b.WriteString(strings.ReplaceAll(f.Name, "`", "``"))
			b.WriteString("` ")
			f.Type.write(b)
			if f.Description != "" {
				b.WriteString(" '")
				b.WriteString(strings.ReplaceAll(f.Description, "'", "''"))
				b.WriteByte('\'')
			}
		}
		b.WriteByte('>')
	default:
		b.WriteString(t.Kind.String())
	}
	if t.NotNull {
		b.WriteString(" NOT NULL")
	}
	switch t.Attr {
	case Rowtime:
		b.WriteString(" *ROWTIME*")
	case Proctime:
		b.WriteString(" *PROCTIME*")
	}
}

// Validate checks t's parameters against Flink's bounds and returns the
// error Flink's type constructors give.
func (t Type) Validate() error {
	switch t.Kind {
	case Decimal:
		if t.Precision < 1 || t.Precision > MaxDecimalPrecision {
			return fmt.Errorf("Decimal precision must be between 1 and 38 (both inclusive).")
		}
		if t.Scale < 0 || t.Scale > t.Precision {
			return fmt.Errorf("Decimal scale must be between 0 and the precision %d (both inclusive).", t.Precision)
		}
	case Char, VarChar, Binary, VarBinary:
		if t.Precision < 1 {
			// Flink admits length 0 only for the empty literal ''.
			if t.Precision == 0 {
				return nil
			}
			return fmt.Errorf("%s length must be between 1 and %d (both inclusive).", titleKind(t.Kind), MaxLength)
		}
	case Time:
		if t.Precision < 0 || t.Precision > MaxTimePrecision {
			return fmt.Errorf("Time precision must be between 0 and 9 (both inclusive).")
		}
	case Timestamp, TimestampLTZ:
		if t.Precision < 0 || t.Precision > MaxTimePrecision {
			return fmt.Errorf("Timestamp precision must be between 0 and 9 (both inclusive).")
		}
	case Array, Multiset:
		return t.Elem.Validate()
	case Map:
		if err := t.Elem.Validate(); err != nil {
			return err
		}
		return t.Value.Validate()
	case Row:
		seen := map[string]bool{}
		for _, f := range t.Fields {
			if seen[f.Name] {
				return fmt.Errorf("Field names must be unique. Found duplicates: [%s]", f.Name)
			}
			seen[f.Name] = true
			if err := f.Type.Validate(); err != nil {
				return err
			}
		}
	}
	return nil
}

func titleKind(k Kind) string {
	switch k {
	case Char:
		return "Character string"
	case VarChar:
		return "Variable character string"
	case Binary:
		return "Binary string"
	default:
		return "Variable binary string"
	}
}
