package types

import (
	"fmt"
)

// This file holds Flink's type rules: implicit and explicit casts
// (LogicalTypeCasts), the least-restrictive common type (LogicalTypeMerging.
// findCommonType) and the DECIMAL precision rules of arithmetic and of SUM
// and AVG. See Flink's "Data Types" page, section "Casting"
// (https://nightlies.apache.org/flink/flink-docs-stable/docs/dev/table/types/#casting).

// kindSet is a set of kinds.
type kindSet uint32

func setOf(ks ...Kind) kindSet {
	var s kindSet
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

func (s kindSet) has(k Kind) bool { return s&(1<<k) != 0 }

var (
	famNumeric      = setOf(TinyInt, SmallInt, Int, BigInt, Float, Double, Decimal)
	famExactNumeric = setOf(TinyInt, SmallInt, Int, BigInt, Decimal)
	famIntegers     = setOf(TinyInt, SmallInt, Int, BigInt)
	famCharString   = setOf(Char, VarChar)
	famBinaryString = setOf(Binary, VarBinary)
	famTimestamp    = setOf(Timestamp, TimestampLTZ)
	famDatetime     = setOf(Date, Time, Timestamp, TimestampLTZ)
	famInterval     = setOf(IntervalYearMonth, IntervalDayTime)
	famPredefined   = setOf(Boolean, TinyInt, SmallInt, Int, BigInt, Float, Double, Decimal, Char, VarChar,
		Binary, VarBinary, Date, Time, Timestamp, TimestampLTZ, IntervalYearMonth, IntervalDayTime)
)

// implicitFrom[target] and explicitFrom[target] are the source kinds that
// cast to target implicitly and explicitly (explicit includes implicit).
// These are the rules of Flink 1.15+ (FLIP-162's cast rework).
var implicitFrom, explicitFrom [numKinds]kindSet

func init() {
	for k := Kind(0); k < numKinds; k++ {
		implicitFrom[k] = setOf(k)
	}
	rule := func(target Kind, implicit, explicit kindSet) {
		implicitFrom[target] |= implicit
		explicitFrom[target] = implicitFrom[target] | explicit
	}
	tsAndLTZ := setOf(Timestamp, TimestampLTZ)
	rule(Char, 0, famPredefined|setOf(Array, Map, Multiset, Row))
	rule(VarChar, famCharString, famPredefined|setOf(Array, Map, Multiset, Row))
	rule(Boolean, 0, famCharString|famIntegers)
	rule(Binary, 0, famCharString)
	rule(VarBinary, famBinaryString, famCharString)
	rule(Decimal, famNumeric, famCharString|setOf(Boolean)|tsAndLTZ|famInterval)
	rule(TinyInt, 0, famNumeric|famCharString|setOf(Boolean)|tsAndLTZ|famInterval)
	rule(SmallInt, setOf(TinyInt), famNumeric|famCharString|setOf(Boolean)|tsAndLTZ|famInterval)
	rule(Int, setOf(TinyInt, SmallInt), famNumeric|famCharString|setOf(Boolean)|tsAndLTZ|famInterval)
	rule(BigInt, setOf(TinyInt, SmallInt, Int), famNumeric|famCharString|setOf(Boolean)|tsAndLTZ|famInterval)
	rule(Float, setOf(TinyInt, SmallInt, Int, BigInt, Decimal), famNumeric|famCharString|setOf(Boolean)|tsAndLTZ)
	rule(Double, famNumeric, famCharString|setOf(Boolean)|tsAndLTZ)
	rule(Date, setOf(Timestamp), famTimestamp|famCharString)
	rule(Time, setOf(Timestamp), setOf(Time)|famTimestamp|famCharString)
	rule(Timestamp, 0, famDatetime|famCharString|famNumeric)
	rule(TimestampLTZ, 0, famDatetime|famCharString|famNumeric)
	rule(IntervalYearMonth, 0, famExactNumeric|famCharString)
	rule(IntervalDayTime, 0, famExactNumeric|famCharString)
	for _, k := range []Kind{Array, Map, Multiset, Row, Null} {
		rule(k, 0, 0)
	}
}

// CanImplicitCast reports whether from widens to to without loss of
// information, the casts Flink inserts by itself (type widening and
// generalisation). A nullable type never casts to a NOT NULL one.
func CanImplicitCast(from, to Type) bool { return supportsCasting(from, to, false) }

// CanExplicitCast reports whether CAST(from AS to) is legal.
func CanExplicitCast(from, to Type) bool { return supportsCasting(from, to, true) }

func supportsCasting(from, to Type, explicit bool) bool {
	if from.IsNullable() && !to.IsNullable() {
		return false
	}
	if from.EqualIgnoringNull(to) {
		return true
	}
	switch {
	case from.Kind == Null:
		return true
	case from.IsInterval() && to.IsExactNumeric():
		return from.Res.singleField() && explicit
	case from.IsExactNumeric() && to.IsInterval():
		return to.Res.singleField() && explicit
	case from.IsConstructed() || to.IsConstructed():
		return constructedCasting(from, to, explicit)
	}
	if implicitFrom[to.Kind].has(from.Kind) {
		return true
	}
	return explicit && explicitFrom[to.Kind].has(from.Kind)
}

func constructedCasting(from, to Type, explicit bool) bool {
	if from.Kind != to.Kind {
		// Every type casts to a character string explicitly.
		return explicit && to.IsCharString()
	}
	switch from.Kind {
	case Array, Multiset:
		return supportsCasting(from.Elem.Nullable(), to.Elem.Nullable(), explicit)
	case Map:
		return supportsCasting(from.Elem.Nullable(), to.Elem.Nullable(), explicit) &&
			supportsCasting(from.Value.Nullable(), to.Value.Nullable(), explicit)
	case Row:
		if len(from.Fields) != len(to.Fields) {
			return false
		}
		for i := range from.Fields {
			if !supportsCasting(from.Fields[i].Type.Nullable(), to.Fields[i].Type.Nullable(), explicit) {
				return false
			}
		}
		return true
	}
	return false
}

// CheckCast validates CAST(from AS to) (and TRY_CAST) as Flink's planner
// does, returning nil or the error to report. Beyond CanExplicitCast it
// refuses the numeric ↔ TIMESTAMP casts that Flink 1.15+ forbids with a
// pointer to the functions to use instead.
func CheckCast(from, to Type) error {
	from, to = from.Nullable(), to.Nullable()
	if from.IsNumeric() && to.Kind == Timestamp {
		return fmt.Errorf("The cast from NUMERIC type to TIMESTAMP type is not allowed. It's recommended to use TO_TIMESTAMP(FROM_UNIXTIME(numeric_col)) instead, note the numeric is in seconds.")
	}
	if from.Kind == Timestamp && to.IsNumeric() {
		return fmt.Errorf("The cast from TIMESTAMP type to NUMERIC type is not allowed. It's recommended to use UNIX_TIMESTAMP(CAST(timestamp_col AS STRING)) instead.")
	}
	if !CanExplicitCast(from, to) {
		return fmt.Errorf("Cast function cannot convert value of type %s to type %s", from, to)
	}
	return nil
}

// CastCanFail reports whether CAST(from AS to) can fail at run time for
// some input (so that TRY_CAST returns NULL instead of failing): parsing a
// string, or a DECIMAL narrowing that can overflow. Numeric narrowing
// between integers and from floating point never fails in Flink: it wraps or
// saturates as Java's casts do.
func CastCanFail(from, to Type) bool {
	if from.Kind == Null || from.EqualIgnoringNull(to) {
		return false
	}
	if from.IsCharString() {
		return !to.IsCharString() && !to.IsBinaryString()
	}
	switch to.Kind {
	case Decimal:
		return from.IsNumeric() || from.IsInterval() || from.IsTimestamp()
	case Array, Multiset:
		return CastCanFail(*from.Elem, *to.Elem)
	case Map:
		return CastCanFail(*from.Elem, *to.Elem) || CastCanFail(*from.Value, *to.Value)
	case Row:
		for i := range from.Fields {
			if i < len(to.Fields) && CastCanFail(from.Fields[i].Type, to.Fields[i].Type) {
				return true
			}
		}
	}
	return false
}

// CastResultType is the type of CAST(x AS to): to with x's nullability (a
// CAST that fails at run time is an error, not a NULL), and of TRY_CAST,
// which is always nullable.
func CastResultType(from, to Type, try bool) Type {
	if try {
		return to.Nullable()
	}
	return to.WithNullable(from.IsNullable())
}

// CommonType is the least-restrictive type of ts that all of them cast to
// implicitly: the type of CASE, COALESCE, IF, UNION, IN lists and the
// operands of comparisons. For example [INT, BIGINT, DECIMAL(2, 2)] gives
// DECIMAL(21, 2). It is nullable if any of ts is. NULL types are ignored;
// ts of only NULL types have no common type (Flink reserves NULL for untyped
// literals). ok is false when there is no common type.
func CommonType(ts ...Type) (Type, bool) {
	if len(ts) == 0 {
		return Type{}, false
	}
	nullable, hasNull := false, false
	norm := make([]Type, len(ts))
	for i, t := range ts {
		nullable = nullable || t.IsNullable()
		hasNull = hasNull || t.Kind == Null
		t.NotNull = false
		t.Attr = Regular
		norm[i] = t
	}
	res, ok := commonNullable(norm, hasNull)
	if !ok {
		res, ok = commonCastable(norm)
	}
	if !ok || res.Kind == Null {
		return Type{}, false
	}
	return res.WithNullable(nullable), true
}

func commonCastable(ts []Type) (Type, bool) {
	res := ts[0]
	for _, t := range ts {
		if t.Kind == Null {
			continue
		}
		if supportsCasting(res, t, false) {
			res = t
		} else if !supportsCasting(t, res, false) {
			return Type{}, false
		}
	}
	return res, true
}

func commonNullable(ts []Type, hasNull bool) (Type, bool) {
	var res Type
	found := false
	for _, t := range ts {
		if t.Kind == Null {
			continue
		}
		if !found {
			res, found = t, true
		}
		if p, ok := commonPattern(res, t); ok {
			res = p
			continue
		}
		switch t.Kind {
		case Array, Multiset, Map, Row:
			return commonChildren(ts)
		}
		if !similar(res, t) {
			return Type{}, false
		}
		switch {
		case t.IsCharString() || t.IsBinaryString():
			n := max(res.Precision, t.Precision)
			switch {
			case res.Kind == VarChar || res.Kind == VarBinary:
				res = Type{Kind: res.Kind, Precision: n}
			case res.Precision != t.Precision:
				// Different fixed lengths widen to the variable type:
				// not the SQL standard, but no padding of values.
				if res.Kind == Char {
					res = VarCharType(n)
				} else {
					res = VarBinaryType(n)
				}
			default:
				res = Type{Kind: t.Kind, Precision: n}
			}
		case t.IsExactNumeric():
			switch {
			case res.IsExactNumeric():
				res = commonExact(res, t)
			case res.IsApproximate():
				if t.Kind == Decimal {
					res = DoubleType()
				}
			default:
				return Type{}, false
			}
		case t.IsApproximate():
			switch {
			case res.IsApproximate():
				if res.Kind == Double || t.Kind == Double {
					res = DoubleType()
				}
			case res.IsExactNumeric():
				if res.Kind == Decimal {
					res = DoubleType()
				} else {
					res = t
				}
			default:
				return Type{}, false
			}
		case t.Kind == Date:
			if res.Kind != Date {
				return Type{}, false
			}
			res = DateType()
		case t.Kind == Time:
			if res.Kind != Time {
				return Type{}, false
			}
			res = TimeType(max(res.Precision, t.Precision))
		case t.IsTimestamp():
			if !res.IsTimestamp() {
				return Type{}, false
			}
			p := max(res.Precision, t.Precision)
			if res.Kind == TimestampLTZ || t.Kind == TimestampLTZ {
				res = TimestampLTZType(p)
			} else {
				res = TimestampType(p)
			}
		case t.Kind == IntervalDayTime:
			res = DayTimeInterval(combineRes(res.Res, t.Res, ResDay, ResSecond), max(res.Precision, t.Precision), max(res.Scale, t.Scale))
		case t.Kind == IntervalYearMonth:
			res = YearMonthInterval(combineRes(res.Res, t.Res, ResYear, ResMonth), max(res.Precision, t.Precision))
		default:
			return Type{}, false
		}
	}
	if !found {
		if hasNull {
			return NullType(), true
		}
		return Type{}, false
	}
	return res, true
}

// commonPattern: DATETIME + INTERVAL is the DATETIME; TIMESTAMP or DATE
// with an exact number (a number of days) is the TIMESTAMP or DATE.
func commonPattern(res, t Type) (Type, bool) {
	switch {
	case res.IsDatetime() && t.IsInterval():
		return res, true
	case res.IsInterval() && t.IsDatetime():
		return t, true
	case (res.IsTimestamp() || res.Kind == Date) && t.IsExactNumeric():
		return res, true
	case res.IsExactNumeric() && (t.IsTimestamp() || t.Kind == Date):
		return t, true
	}
	return Type{}, false
}

func similar(a, b Type) bool {
	switch {
	case a.IsCharString() && b.IsCharString(), a.IsBinaryString() && b.IsBinaryString(),
		a.IsNumeric() && b.IsNumeric(), a.Kind == Time && b.Kind == Time, a.IsTimestamp() && b.IsTimestamp():
		return true
	}
	return a.Kind == b.Kind
}

func commonChildren(ts []Type) (Type, bool) {
	var first *Type
	for i := range ts {
		if ts[i].Kind != Null {
			first = &ts[i]
			break
		}
	}
	for _, t := range ts {
		if t.Kind == Null {
			continue
		}
		if t.Kind != first.Kind || len(t.Fields) != len(first.Fields) {
			return Type{}, false
		}
	}
	child := func(get func(Type) Type) (Type, bool) {
		var cs []Type
		for _, t := range ts {
			if t.Kind != Null {
				cs = append(cs, get(t))
			}
		}
		return CommonType(cs...)
	}
	switch first.Kind {
	case Array, Multiset:
		e, ok := child(func(t Type) Type { return *t.Elem })
		if !ok {
			return Type{}, false
		}
		return Type{Kind: first.Kind, Elem: &e}, true
	case Map:
		k, ok1 := child(func(t Type) Type { return *t.Elem })
		v, ok2 := child(func(t Type) Type { return *t.Value })
		if !ok1 || !ok2 {
			return Type{}, false
		}
		return MapType(k, v), true
	default:
		fs := make([]Field, len(first.Fields))
		for i := range fs {
			ft, ok := child(func(t Type) Type { return t.Fields[i].Type })
			if !ok {
				return Type{}, false
			}
			fs[i] = Field{Name: first.Fields[i].Name, Type: ft, Description: first.Fields[i].Description}
		}
		return RowType(fs...), true
	}
}

func commonExact(a, b Type) Type {
	if a.EqualIgnoringNull(b) {
		return a
	}
	if a.Kind != Decimal && b.Kind != Decimal {
		if b.Kind > a.Kind {
			return b
		}
		return a
	}
	p1, s1 := a.IntegerPrecision(), a.Scale
	p2, s2 := b.IntegerPrecision(), b.Scale
	d := min(max(p1-s1, p2-s2), MaxDecimalPrecision)
	s := min(max(s1, s2), MaxDecimalPrecision-d)
	return DecimalType(d+s, s)
}

// combineRes merges two interval resolutions into the one spanning both:
// fields are ordered from lo (YEAR or DAY) to hi (MONTH or SECOND).
func combineRes(a, b, lo, hi Resolution) Resolution {
	start := min(resStart(a), resStart(b))
	end := max(resEnd(a), resEnd(b))
	return resOf(start, end)
}

// Interval fields: 0 YEAR, 1 MONTH, 2 DAY, 3 HOUR, 4 MINUTE, 5 SECOND.
func resStart(r Resolution) int {
	switch r {
	case ResYear, ResYearToMonth:
		return 0
	case ResMonth:
		return 1
	case ResDay, ResDayToHour, ResDayToMinute, ResDayToSecond:
		return 2
	case ResHour, ResHourToMinute, ResHourToSecond:
		return 3
	case ResMinute, ResMinuteToSecond:
		return 4
	}
	return 5
}

func resEnd(r Resolution) int {
	switch r {
	case ResYear:
		return 0
	case ResYearToMonth, ResMonth:
		return 1
	case ResDay:
		return 2
	case ResDayToHour, ResHour:
		return 3
	case ResDayToMinute, ResHourToMinute, ResMinute:
		return 4
	}
	return 5
}

func resOf(start, end int) Resolution {
	switch [2]int{start, end} {
	case [2]int{0, 0}:
		return ResYear
	case [2]int{0, 1}:
		return ResYearToMonth
	case [2]int{1, 1}:
		return ResMonth
	case [2]int{2, 2}:
		return ResDay
	case [2]int{2, 3}:
		return ResDayToHour
	case [2]int{2, 4}:
		return ResDayToMinute
	case [2]int{3, 3}:
		return ResHour
	case [2]int{3, 4}:
		return ResHourToMinute
	case [2]int{3, 5}:
		return ResHourToSecond
	case [2]int{4, 4}:
		return ResMinute
	case [2]int{4, 5}:
		return ResMinuteToSecond
	case [2]int{5, 5}:
		return ResSecond
	}
	return ResDayToSecond
}

// adjustPrecisionScale keeps a derived DECIMAL within 38 digits by
// sacrificing scale (down to 6 digits, or the original scale if smaller)
// before the integral part: Flink's Hive/Spark-style rule.
func adjustPrecisionScale(p, s int) Type {
	if p <= MaxDecimalPrecision {
		return DecimalType(p, s)
	}
	digits := p - s
	minScale := min(s, 6)
	return DecimalType(MaxDecimalPrecision, max(MaxDecimalPrecision-digits, minScale))
}

// DecimalPlus is the type of DECIMAL(p1, s1) + (or -) DECIMAL(p2, s2).
func DecimalPlus(p1, s1, p2, s2 int) Type {
	s := max(s1, s2)
	return adjustPrecisionScale(max(p1-s1, p2-s2)+s+1, s)
}

// DecimalTimes is the type of DECIMAL(p1, s1) * DECIMAL(p2, s2).
func DecimalTimes(p1, s1, p2, s2 int) Type {
	return adjustPrecisionScale(p1+p2+1, s1+s2)
}

// DecimalDivide is the type of DECIMAL(p1, s1) / DECIMAL(p2, s2).
func DecimalDivide(p1, s1, p2, s2 int) Type {
	s := max(6, s1+p2+1)
	return adjustPrecisionScale(p1-s1+s2+s, s)
}

// DecimalMod is the type of MOD(DECIMAL(p1, s1), DECIMAL(p2, s2)).
func DecimalMod(p1, s1, p2, s2 int) Type {
	s := max(s1, s2)
	return adjustPrecisionScale(min(p1-s1, p2-s2)+s, s)
}

// DecimalRound is the type of ROUND(DECIMAL(p, s), r) (and TRUNCATE).
func DecimalRound(p, s, r int) Type {
	if r >= s {
		return DecimalType(p, s)
	}
	if r < 0 {
		return DecimalType(min(MaxDecimalPrecision, 1+p-s), 0)
	}
	return DecimalType(1+p-s+r, r)
}

// SumType is the result type of SUM(t) and SUM0(t): DECIMAL(38, s) for a
// DECIMAL, the argument type otherwise (SUM of INT is INT and wraps on
// overflow, as in Flink). SUM is nullable (NULL over no rows); SUM0 keeps
// the argument's nullability.
func SumType(t Type) Type {
	if t.Kind == Decimal {
		return DecimalType(MaxDecimalPrecision, t.Scale).WithNullable(t.IsNullable())
	}
	return t
}

// AvgType is the result type of AVG(t): DECIMAL(38, max(6, s)) for a
// DECIMAL, the argument type otherwise (AVG of INT is an INT, by integer
// division, as in Flink).
func AvgType(t Type) Type {
	if t.Kind == Decimal {
		return DecimalDivide(MaxDecimalPrecision, t.Scale, 20, 0).WithNullable(t.IsNullable())
	}
	return t
}

// ArithOp is a binary arithmetic operator.
type ArithOp uint8

// The arithmetic operators.
const (
	Plus ArithOp = iota
	Minus
	Times
	Divide
	Mod
)

var arithNames = [...]string{"+", "-", "*", "/", "MOD"}

func (o ArithOp) String() string { return arithNames[o] }

// ArithmeticType is the type of a op b for numeric operands: DECIMAL by the
// Decimal* rules when either is DECIMAL and neither is approximate; DOUBLE
// when either is DOUBLE or a DECIMAL meets a FLOAT; otherwise the wider of
// the two (TINYINT + TINYINT is TINYINT and wraps, as in Flink); MOD of
// integers has the type of its second operand (Calcite's ARG1). The result is nullable if either operand is. Datetime and interval
// arithmetic (ts + INTERVAL) is typed by DatetimeArithmeticType.
func ArithmeticType(op ArithOp, a, b Type) (Type, error) {
	if !a.IsNumeric() || !b.IsNumeric() {
		if t, err := DatetimeArithmeticType(op, a, b); err == nil {
			return t, nil
		}
		if a.Kind == Null || b.Kind == Null {
			other := a
			if a.Kind == Null {
				other = b
			}
			if other.IsNumeric() {
				return other.Nullable(), nil
			}
			if other.Kind == Null {
				return Type{}, fmt.Errorf("Illegal use of 'NULL'")
			}
		}
		return Type{}, fmt.Errorf("Cannot apply '%s' to arguments of type '%s' and '%s'", op, a.Nullable(), b.Nullable())
	}
	nullable := a.IsNullable() || b.IsNullable()
	var t Type
	switch {
	case a.IsApproximate() || b.IsApproximate():
		if a.Kind == Double || b.Kind == Double || a.Kind == Decimal || b.Kind == Decimal {
			t = DoubleType()
		} else {
			t = FloatType()
		}
	case a.Kind == Decimal || b.Kind == Decimal:
		ad, bd := a.AsDecimal(), b.AsDecimal()
		switch op {
		case Plus, Minus:
			t = DecimalPlus(ad.Precision, ad.Scale, bd.Precision, bd.Scale)
		case Times:
			t = DecimalTimes(ad.Precision, ad.Scale, bd.Precision, bd.Scale)
		case Divide:
			t = DecimalDivide(ad.Precision, ad.Scale, bd.Precision, bd.Scale)
		case Mod:
			t = DecimalMod(ad.Precision, ad.Scale, bd.Precision, bd.Scale)
		}
	default:
		k := max(a.Kind, b.Kind)
		if op == Mod {
			// Calcite types MOD of integers by its second operand.
			k = b.Kind
		}
		t = Type{Kind: k}
	}
	return t.WithNullable(nullable), nil
}

// DatetimeArithmeticType types the datetime forms of + and -: DATE, TIME or
// TIMESTAMP ± INTERVAL (the datetime type), INTERVAL + DATETIME, INTERVAL ±
// INTERVAL of one family (the common interval), INTERVAL * or / an exact
// number, and DATE ± an integer number of days.
func DatetimeArithmeticType(op ArithOp, a, b Type) (Type, error) {
	nullable := a.IsNullable() || b.IsNullable()
	bad := fmt.Errorf("Cannot apply '%s' to arguments of type '%s' and '%s'", op, a.Nullable(), b.Nullable())
	switch {
	case a.IsDatetime() && b.IsInterval() && (op == Plus || op == Minus):
		// The result has the datetime's type: DATE + INTERVAL '1' HOUR
		// stays a DATE (Calcite's ARG0 rule; the sub-day part drops).
		if a.Kind == Time && b.Kind == IntervalYearMonth {
			return Type{}, bad
		}
		return a.WithNullable(nullable), nil
	case a.IsInterval() && b.IsDatetime() && op == Plus:
		if b.Kind == Time && a.Kind == IntervalYearMonth {
			return Type{}, bad
		}
		return b.WithNullable(nullable), nil
	case a.IsInterval() && b.IsInterval() && a.Kind == b.Kind && (op == Plus || op == Minus):
		t, _ := CommonType(a, b)
		return t, nil
	case a.IsInterval() && b.IsExactNumeric() && (op == Times || op == Divide):
		return a.WithNullable(nullable), nil
	case a.IsExactNumeric() && b.IsInterval() && op == Times:
		return b.WithNullable(nullable), nil
	}
	return Type{}, bad
}

// ComparisonType is the type both operands of a comparison (=, <>, <, ...,
// IN, BETWEEN) are cast to before comparing: their common type, or, for a
// character string against a numeric, boolean or datetime operand, the
// non-string type (Calcite's implicit coercion of binary comparisons, which
// Flink applies: WHERE int_col = '1'). It is an error when the operands are
// not comparable.
func ComparisonType(a, b Type) (Type, error) {
	if t, ok := CommonType(a, b); ok {
		// MAP and MULTISET compare only for equality; the caller
		// checks the operator.
		return t, nil
	}
	nullable := a.IsNullable() || b.IsNullable()
	switch {
	case a.IsCharString() && (b.IsNumeric() || b.IsDatetime() || b.Kind == Boolean):
		return b.WithNullable(nullable), nil
	case b.IsCharString() && (a.IsNumeric() || a.IsDatetime() || a.Kind == Boolean):
		return a.WithNullable(nullable), nil
	}
	return Type{}, fmt.Errorf("Cannot apply comparison to arguments of type '%s' and '%s'", a.Nullable(), b.Nullable())
}
