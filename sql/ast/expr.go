package ast

// Expr is a scalar expression (or, as a table function's argument, a table,
// a descriptor or a cursor).
type Expr interface {
	Node
	exprNode()
}

// Precedence levels of expressions, from loosest to tightest. The parser
// binds by them and the printer parenthesises by them, so the two agree.
const (
	PrecOr      = 1 // OR
	PrecAnd     = 2 // AND
	PrecNot     = 3 // prefix NOT
	PrecIs      = 4 // IS [NOT] NULL|TRUE|FALSE|UNKNOWN|DISTINCT FROM|JSON
	PrecCmp     = 5 // = <> < <= > >=, and x = ANY (subquery)
	PrecIn      = 6 // [NOT] BETWEEN, IN, LIKE, SIMILAR TO
	PrecAdd     = 7 // + -
	PrecMul     = 8 // * / % ||
	PrecUnary   = 9 // prefix + -
	PrecPostfix = 10
	PrecPrimary = 11
)

// BinaryOp is a binary operator.
type BinaryOp uint8

// The binary operators. != is read as <>.
const (
	OpOr BinaryOp = iota + 1
	OpAnd
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpMod
	OpConcat
)

var binaryOpText = [...]string{
	OpOr: "OR", OpAnd: "AND", OpEq: "=", OpNe: "<>", OpLt: "<", OpLe: "<=", OpGt: ">",
	OpGe: ">=", OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "/", OpMod: "%", OpConcat: "||",
}

// String returns the operator as written in SQL.
func (op BinaryOp) String() string {
	if int(op) < len(binaryOpText) {
		return binaryOpText[op]
	}
	return "?"
}

// Precedence returns the operator's precedence level (Prec*).
func (op BinaryOp) Precedence() int {
	switch op {
	case OpOr:
		return PrecOr
	case OpAnd:
		return PrecAnd
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe:
		return PrecCmp
	case OpAdd, OpSub:
		return PrecAdd
	default:
		return PrecMul
	}
}

// IsComparison reports whether op is one of = <> < <= > >=.
func (op BinaryOp) IsComparison() bool { return op.Precedence() == PrecCmp }

// UnaryOp is a prefix operator.
type UnaryOp uint8

// The prefix operators.
const (
	OpNot UnaryOp = iota + 1
	OpNeg
	OpPlus
)

// String returns the operator as written in SQL.
func (op UnaryOp) String() string {
	switch op {
	case OpNot:
		return "NOT"
	case OpNeg:
		return "-"
	case OpPlus:
		return "+"
	}
	return "?"
}

// NumberLit is a numeric literal, kept as written so a later stage can type
// it: an exact number (INT, BIGINT or DECIMAL by its size and point) or an
// approximate one (DOUBLE, with an exponent).
type NumberLit struct {
	Spanned
	Text string
	// Approx is true for a number written with an exponent (1.5E3).
	Approx bool
}

// StringLit is a character string literal; Value has ” undone.
type StringLit struct {
	Spanned
	Value string
}

// BinaryLit is a binary string literal X'0A1B'; Hex holds the hex digits as
// written (an even number of them).
type BinaryLit struct {
	Spanned
	Hex string
}

// BoolLit is TRUE or FALSE.
type BoolLit struct {
	Spanned
	Value bool
}

// NullLit is NULL.
type NullLit struct{ Spanned }

// UnknownLit is UNKNOWN, the boolean NULL.
type UnknownLit struct{ Spanned }

// TypedLit is a literal of a datetime type: DATE '2024-01-31',
// TIME '12:00:00', TIMESTAMP '2024-01-31 12:00:00', TIMESTAMP_LTZ '...'.
// Type is "DATE", "TIME", "TIMESTAMP" or "TIMESTAMP_LTZ"; Value is the
// string, not yet checked.
type TypedLit struct {
	Spanned
	Type  string
	Value string
}

// TimeUnit is a unit of time as in intervals and EXTRACT: YEAR, QUARTER,
// MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MILLISECOND, MICROSECOND,
// NANOSECOND, and for EXTRACT also DOW, DOY, EPOCH, ISODOW, ISOYEAR, DECADE,
// CENTURY, MILLENNIUM. Plural spellings (MINUTES) are read as the singular.
type TimeUnit string

// IntervalQualifier is the unit part of an interval: SECOND, SECOND(3),
// DAY TO SECOND, MINUTE(2) TO SECOND(3).
type IntervalQualifier struct {
	Spanned
	Start TimeUnit
	// StartPrecision is the leading field precision, -1 when not given.
	StartPrecision int
	// End is the trailing unit, "" when there is none.
	End TimeUnit
	// EndPrecision is the fractional second precision of a TO SECOND(p)
	// end, -1 when not given.
	EndPrecision int
}

// IntervalLit is INTERVAL '5' SECOND, INTERVAL '1:30' MINUTE TO SECOND,
// INTERVAL -'1' DAY.
type IntervalLit struct {
	Spanned
	Negative  bool
	Value     string
	Qualifier *IntervalQualifier
}

// Param is a ? placeholder; Index counts from 1 in source order.
type Param struct {
	Spanned
	Index int
}

// UnaryExpr is NOT x, -x or +x.
type UnaryExpr struct {
	Spanned
	Op UnaryOp
	X  Expr
}

// BinaryExpr is x op y.
type BinaryExpr struct {
	Spanned
	Op   BinaryOp
	L, R Expr
}

// IsKind says what an IS test tests for.
type IsKind uint8

// The IS tests.
const (
	IsNull IsKind = iota + 1
	IsTrue
	IsFalse
	IsUnknown
	// IsJSON is x IS JSON [VALUE|SCALAR|ARRAY|OBJECT]; IsExpr.JSONType says
	// which ("" for plain IS JSON).
	IsJSON
)

// IsExpr is x IS [NOT] NULL|TRUE|FALSE|UNKNOWN|JSON ....
type IsExpr struct {
	Spanned
	X        Expr
	Not      bool
	What     IsKind
	JSONType string
}

// DistinctFromExpr is x IS [NOT] DISTINCT FROM y.
type DistinctFromExpr struct {
	Spanned
	L, R Expr
	Not  bool
}

// BetweenExpr is x [NOT] BETWEEN [SYMMETRIC] lo AND hi. ASYMMETRIC, the
// default, is read as Symmetric false.
type BetweenExpr struct {
	Spanned
	X, Lo, Hi Expr
	Not       bool
	Symmetric bool
}

// InExpr is x [NOT] IN (list) or x [NOT] IN (subquery): exactly one of List
// and Query is set.
type InExpr struct {
	Spanned
	X     Expr
	Not   bool
	List  []Expr
	Query *Query
}

// LikeExpr is x [NOT] LIKE p [ESCAPE e] or x [NOT] SIMILAR TO p [ESCAPE e].
type LikeExpr struct {
	Spanned
	X       Expr
	Not     bool
	Similar bool
	Pattern Expr
	Escape  Expr // nil when absent
}

// QuantifiedExpr is x op ANY|SOME|ALL (subquery). SOME is read as ANY.
type QuantifiedExpr struct {
	Spanned
	X     Expr
	Op    BinaryOp // a comparison
	All   bool     // ALL; false for ANY/SOME
	Query *Query
}

// ExistsExpr is EXISTS (subquery).
type ExistsExpr struct {
	Spanned
	Query *Query
}

// SubqueryExpr is a scalar subquery: (SELECT ...).
type SubqueryExpr struct {
	Spanned
	Query *Query
}

// When is one WHEN ... THEN ... of a CASE.
type When struct {
	Spanned
	Cond   Expr
	Result Expr
}

// CaseExpr is CASE [operand] WHEN ... THEN ... [ELSE ...] END.
type CaseExpr struct {
	Spanned
	Operand Expr // nil for a searched CASE
	Whens   []*When
	Else    Expr // nil when absent
}

// CastExpr is CAST(x AS type) or TRY_CAST(x AS type).
type CastExpr struct {
	Spanned
	X    Expr
	Type *Type
	Try  bool
}

// ExtractExpr is EXTRACT(unit FROM x).
type ExtractExpr struct {
	Spanned
	Unit TimeUnit
	X    Expr
}

// FloorCeilExpr is FLOOR(x TO unit) or CEIL(x TO unit). FLOOR(x) without TO
// is an ordinary FuncCall.
type FloorCeilExpr struct {
	Spanned
	Ceil bool
	X    Expr
	Unit TimeUnit
}

// PositionExpr is POSITION(sub IN s [FROM start]).
type PositionExpr struct {
	Spanned
	Sub, In Expr
	From    Expr // nil when absent
}

// TrimExpr is TRIM([BOTH|LEADING|TRAILING] [chars] FROM s) or TRIM(s).
type TrimExpr struct {
	Spanned
	// Where is "BOTH", "LEADING" or "TRAILING"; "" when not written (BOTH).
	Where string
	Chars Expr // nil when absent
	X     Expr
}

// SubstringExpr is SUBSTRING(s FROM start [FOR length]); the comma form
// SUBSTRING(s, start[, length]) is read as the same node.
type SubstringExpr struct {
	Spanned
	X    Expr
	From Expr
	For  Expr // nil when absent
}

// OverlayExpr is OVERLAY(s PLACING r FROM start [FOR length]).
type OverlayExpr struct {
	Spanned
	X, Placing, From Expr
	For              Expr // nil when absent
}

// StepExpr is Kinesis Data Analytics' STEP(x BY interval): x rounded down
// to a multiple of the interval.
type StepExpr struct {
	Spanned
	X, By Expr
}

// IntervalExpr is (a - b) unit: the difference of two datetimes read as an
// interval of the qualifier's unit, as Kinesis Data Analytics writes
// (ROWTIME - TIMESTAMP '1970-01-01 00:00:00') SECOND.
type IntervalExpr struct {
	Spanned
	X         Expr
	Qualifier *IntervalQualifier
}

// NamedArg is a named argument of a function call: name => value.
type NamedArg struct {
	Spanned
	Name  *Ident
	Value Expr
}

// TableArg is a table passed to a table function: TABLE t, optionally with
// the rows set semantics of PARTITION BY and ORDER BY (as in SESSION's
// TABLE t PARTITION BY k).
type TableArg struct {
	Spanned
	Table       *Name
	PartitionBy []Expr
	OrderBy     []*OrderItem
}

// DescriptorExpr is DESCRIPTOR(col, ...), a list of column names given to a
// table function.
type DescriptorExpr struct {
	Spanned
	Columns []*Ident
}

// CursorExpr is CURSOR(query), Kinesis Data Analytics' way of passing a
// stream to a table function.
type CursorExpr struct {
	Spanned
	Query *Query
}

// TimeUnitArg is a time unit given as a function's argument, as in
// TIMESTAMPADD(MINUTE, 5, ts) and TIMESTAMPDIFF(DAY, a, b).
type TimeUnitArg struct {
	Spanned
	Unit TimeUnit
}

// NullTreatment is RESPECT NULLS or IGNORE NULLS after a function call.
type NullTreatment uint8

// The null treatments.
const (
	RespectNulls NullTreatment = iota + 1
	IgnoreNulls
)

// FuncCall is a function call, aggregate or window function:
// name([DISTINCT|ALL] args) [RESPECT|IGNORE NULLS] [WITHIN GROUP (ORDER BY
// ...)] [FILTER (WHERE cond)] [OVER window].
type FuncCall struct {
	Spanned
	Name *Name
	Args []Expr
	// Star is set for COUNT(*); Args is then empty.
	Star     bool
	Distinct bool
	// All is an explicit ALL quantifier (the default).
	All bool
	// NoParens is set for the niladic functions written without
	// parentheses: CURRENT_TIMESTAMP, LOCALTIME, CURRENT_DATE, USER, ....
	NoParens    bool
	Nulls       NullTreatment // 0 when not written
	WithinGroup []*OrderItem
	Filter      Expr
	// OverName is OVER w, a window named in the WINDOW clause.
	OverName *Ident
	// Over is OVER (...).
	Over *WindowSpec
}

// JSONBehavior is a JSON function's ON EMPTY or ON ERROR clause: NULL,
// ERROR, TRUE, FALSE, UNKNOWN, EMPTY ARRAY, EMPTY OBJECT or DEFAULT expr.
type JSONBehavior struct {
	Spanned
	Kind    string
	Default Expr // for DEFAULT expr
}

// JSONCall is one of the JSON functions that have syntax of their own:
// JSON_VALUE, JSON_QUERY, JSON_EXISTS, JSON_OBJECT, JSON_OBJECTAGG,
// JSON_ARRAY and JSON_ARRAYAGG.
type JSONCall struct {
	Spanned
	Func string // upper case: "JSON_VALUE", ...
	// Args are the positional arguments: (json, path) for JSON_VALUE,
	// JSON_QUERY and JSON_EXISTS; the values for JSON_ARRAY[AGG].
	Args []Expr
	// Keys and Values are the entries of JSON_OBJECT[AGG], KEY k VALUE v or
	// k : v.
	Keys, Values []Expr
	Returning    *Type
	// Wrapper is JSON_QUERY's WITHOUT [ARRAY] WRAPPER ("WITHOUT"),
	// WITH [UNCONDITIONAL] [ARRAY] WRAPPER ("WITH UNCONDITIONAL") or WITH
	// CONDITIONAL [ARRAY] WRAPPER ("WITH CONDITIONAL"); "" when absent.
	Wrapper string
	OnEmpty *JSONBehavior
	OnError *JSONBehavior
	// OnNull is "NULL" or "ABSENT" for NULL ON NULL / ABSENT ON NULL.
	OnNull string
	// OrderBy is JSON_ARRAYAGG's ORDER BY.
	OrderBy []*OrderItem
}

// IndexExpr is x[i]: an array element (from 1) or a map value.
type IndexExpr struct {
	Spanned
	X, Index Expr
}

// FieldExpr is x.f where x is not a plain name: (expr).f, f(x).a,
// arr[1].b. A dotted name a.b.c is a Name.
type FieldExpr struct {
	Spanned
	X     Expr
	Field *Ident
}

// Star is * or t.* in a select list (Qualifier holds t), or the * of
// COUNT(*) style calls when they appear as items.
type Star struct {
	Spanned
	Qualifier *Name // nil for a bare *
}

// CollectionExpr is ARRAY[...], MAP[k, v, ...], MULTISET[...], or the query
// forms ARRAY(SELECT ...) and MAP(SELECT ...).
type CollectionExpr struct {
	Spanned
	Kind  string // "ARRAY", "MAP" or "MULTISET"
	Elems []Expr
	Query *Query
}

// RowExpr is ROW(a, b) or, without the keyword, (a, b).
type RowExpr struct {
	Spanned
	Elems []Expr
	// Explicit is set when the ROW keyword was written.
	Explicit bool
}

func (*Name) exprNode()             {}
func (*NumberLit) exprNode()        {}
func (*StringLit) exprNode()        {}
func (*BinaryLit) exprNode()        {}
func (*BoolLit) exprNode()          {}
func (*NullLit) exprNode()          {}
func (*UnknownLit) exprNode()       {}
func (*TypedLit) exprNode()         {}
func (*IntervalLit) exprNode()      {}
func (*Param) exprNode()            {}
func (*UnaryExpr) exprNode()        {}
func (*BinaryExpr) exprNode()       {}
func (*IsExpr) exprNode()           {}
func (*DistinctFromExpr) exprNode() {}
func (*BetweenExpr) exprNode()      {}
func (*InExpr) exprNode()           {}
func (*LikeExpr) exprNode()         {}
func (*QuantifiedExpr) exprNode()   {}
func (*ExistsExpr) exprNode()       {}
func (*SubqueryExpr) exprNode()     {}
func (*CaseExpr) exprNode()         {}
func (*CastExpr) exprNode()         {}
func (*ExtractExpr) exprNode()      {}
func (*FloorCeilExpr) exprNode()    {}
func (*PositionExpr) exprNode()     {}
func (*TrimExpr) exprNode()         {}
func (*SubstringExpr) exprNode()    {}
func (*OverlayExpr) exprNode()      {}
func (*StepExpr) exprNode()         {}
func (*IntervalExpr) exprNode()     {}
func (*NamedArg) exprNode()         {}
func (*TableArg) exprNode()         {}
func (*DescriptorExpr) exprNode()   {}
func (*CursorExpr) exprNode()       {}
func (*TimeUnitArg) exprNode()      {}
func (*FuncCall) exprNode()         {}
func (*JSONCall) exprNode()         {}
func (*IndexExpr) exprNode()        {}
func (*FieldExpr) exprNode()        {}
func (*Star) exprNode()             {}
func (*CollectionExpr) exprNode()   {}
func (*RowExpr) exprNode()          {}
