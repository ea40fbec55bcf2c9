package ast

// Query is a complete query: [WITH ...] body [ORDER BY ...] [LIMIT n]
// [OFFSET m]. FETCH FIRST|NEXT n ROW[S] ONLY is read as LIMIT n, and
// OFFSET m ROW[S] as OFFSET m.
type Query struct {
	Spanned
	With    []*CTE
	Body    QueryBody
	OrderBy []*OrderItem
	Limit   Expr // nil when absent
	Offset  Expr // nil when absent
}

// QueryBody is what a query computes: a *Select, a *SetOp, a *Values, or a
// parenthesised *Query.
type QueryBody interface {
	Node
	queryBody()
}

// CTE is one common table expression of a WITH clause: name [(cols)] AS (query).
type CTE struct {
	Spanned
	Name    *Ident
	Columns []*Ident
	Query   *Query
}

// Select is SELECT [STREAM] [hints] [ALL|DISTINCT] items [FROM ...] [WHERE
// ...] [WINDOWED BY STAGGER (...)] [GROUP BY ...] [HAVING ...] [WINDOW ...].
type Select struct {
	Spanned
	// Stream is Kinesis Data Analytics' SELECT STREAM.
	Stream   bool
	Hints    []*Hint
	Distinct bool
	// All is an explicit ALL (the default).
	All     bool
	Items   []*SelectItem
	From    TableExpr // nil when there is no FROM
	Where   Expr
	Stagger *StaggerWindow
	GroupBy *GroupBy
	Having  Expr
	Windows []*NamedWindow
}

// SelectItem is one item of a select list: expr [[AS] alias], * or t.*.
type SelectItem struct {
	Spanned
	Expr  Expr
	Alias *Ident
}

// SetOpKind is UNION, INTERSECT or EXCEPT.
type SetOpKind uint8

// The set operations. MINUS is read as EXCEPT.
const (
	Union SetOpKind = iota + 1
	Intersect
	Except
)

// String returns the operation as written in SQL.
func (k SetOpKind) String() string {
	switch k {
	case Union:
		return "UNION"
	case Intersect:
		return "INTERSECT"
	case Except:
		return "EXCEPT"
	}
	return "?"
}

// SetOp is L UNION|INTERSECT|EXCEPT [ALL|DISTINCT] R. INTERSECT binds
// tighter than UNION and EXCEPT.
type SetOp struct {
	Spanned
	Op  SetOpKind
	All bool
	// Distinct is an explicit DISTINCT (the default).
	Distinct bool
	L, R     QueryBody
}

// Values is VALUES (a, b), (c, d): each row a list of expressions.
type Values struct {
	Spanned
	Rows [][]Expr
}

func (*Select) queryBody() {}
func (*SetOp) queryBody()  {}
func (*Values) queryBody() {}
func (*Query) queryBody()  {}

// OrderItem is expr [ASC|DESC] [NULLS FIRST|LAST].
type OrderItem struct {
	Spanned
	Expr Expr
	Desc bool
	// Asc is an explicit ASC (the default).
	Asc bool
	// Nulls is "FIRST" or "LAST" when NULLS ... was written, else "".
	Nulls string
}

// GroupingKind is the kind of one GROUP BY element.
type GroupingKind uint8

// The kinds of GROUP BY element.
const (
	GroupExpr  GroupingKind = iota + 1
	GroupEmpty              // ()
	GroupRollup
	GroupCube
	GroupingSets
)

// GroupingElement is one element of GROUP BY: an expression (GroupExpr,
// Exprs has one element), (), ROLLUP(...), CUBE(...) or GROUPING SETS (...)
// (whose Sets are elements again).
type GroupingElement struct {
	Spanned
	Kind  GroupingKind
	Exprs []Expr
	Sets  []*GroupingElement
}

// GroupBy is GROUP BY [ALL|DISTINCT] elements.
type GroupBy struct {
	Spanned
	Distinct bool
	Elements []*GroupingElement
}

// NamedWindow is one "name AS (spec)" of a WINDOW clause.
type NamedWindow struct {
	Spanned
	Name *Ident
	Spec *WindowSpec
}

// WindowSpec is the inside of OVER (...) or WINDOW w AS (...):
// [base] [PARTITION BY ...] [ORDER BY ...] [frame].
type WindowSpec struct {
	Spanned
	Base        *Ident // an existing window this one extends
	PartitionBy []Expr
	OrderBy     []*OrderItem
	Frame       *Frame
}

// FrameUnit is ROWS or RANGE.
type FrameUnit uint8

// The frame units.
const (
	FrameRows FrameUnit = iota + 1
	FrameRange
)

// Frame is ROWS|RANGE start, or ROWS|RANGE BETWEEN start AND end.
type Frame struct {
	Spanned
	Unit  FrameUnit
	Start *FrameBound
	End   *FrameBound // nil without BETWEEN
}

// BoundKind is the kind of a frame bound.
type BoundKind uint8

// The frame bounds.
const (
	UnboundedPreceding BoundKind = iota + 1
	Preceding                    // offset PRECEDING
	CurrentRow
	Following // offset FOLLOWING
	UnboundedFollowing
)

// FrameBound is one end of a frame; Offset is the n (or INTERVAL) of
// n PRECEDING and n FOLLOWING.
type FrameBound struct {
	Spanned
	Kind   BoundKind
	Offset Expr
}

// StaggerWindow is Kinesis Data Analytics' WINDOWED BY STAGGER (PARTITION
// BY ... RANGE interval).
type StaggerWindow struct {
	Spanned
	PartitionBy []Expr
	Range       Expr
}

// Hint is one hint of a /*+ ... */ comment: name, name(a, b) or
// name('k' = 'v', ...). Flink's OPTIONS, LOOKUP, STATE_TTL, BROADCAST, ....
type Hint struct {
	Spanned
	Name *Ident
	// Args are the list form's arguments (names or strings as written).
	Args []*HintArg
}

// HintArg is one argument of a hint: a Key = Value pair (Key set), or a
// single Value.
type HintArg struct {
	Spanned
	Key   string
	Value string
	// KeyQuoted and ValueQuoted say whether they were string literals
	// rather than names.
	KeyQuoted, ValueQuoted bool
}

// Alias is [AS] name [(col, ...)] after a table expression.
type Alias struct {
	Spanned
	Name    *Ident
	Columns []*Ident
}

// TableExpr is an item of FROM: *TableName, *DerivedTable, *TableFunc,
// *Unnest, *Join, *MatchRecognize or *ParenTable.
type TableExpr interface {
	Node
	tableExpr()
}

// TableName is a table or view by name: t [hints] [FOR SYSTEM_TIME AS OF
// expr] [[AS] alias].
type TableName struct {
	Spanned
	Name  *Name
	Hints []*Hint
	// SystemTime is the expression of FOR SYSTEM_TIME AS OF (a temporal
	// join's version), nil when absent.
	SystemTime Expr
	Alias      *Alias
}

// DerivedTable is [LATERAL] (query) [[AS] alias].
type DerivedTable struct {
	Spanned
	Lateral bool
	Query   *Query
	Alias   *Alias
}

// TableFunc is [LATERAL] TABLE(fn(args)) [[AS] alias]: a table function,
// such as the window functions TUMBLE, HOP, CUMULATE and SESSION or the
// anomaly functions RANDOM_CUT_FOREST and HOTSPOTS.
type TableFunc struct {
	Spanned
	Lateral bool
	Call    *FuncCall
	Alias   *Alias
}

// Unnest is UNNEST(expr, ...) [WITH ORDINALITY] [[AS] alias].
type Unnest struct {
	Spanned
	Exprs          []Expr
	WithOrdinality bool
	Alias          *Alias
}

// JoinKind is the kind of a join.
type JoinKind uint8

// The joins. CommaJoin is FROM a, b.
const (
	InnerJoin JoinKind = iota + 1
	LeftJoin
	RightJoin
	FullJoin
	CrossJoin
	CommaJoin
)

// Join is L [NATURAL] kind JOIN R [ON cond | USING (cols)].
type Join struct {
	Spanned
	Kind    JoinKind
	Natural bool
	L, R    TableExpr
	On      Expr
	Using   []*Ident
}

// ParenTable is a parenthesised join: (a JOIN b ON ...) [[AS] alias].
type ParenTable struct {
	Spanned
	Table TableExpr
	Alias *Alias
}

// RowsPerMatch is ONE ROW PER MATCH or ALL ROWS PER MATCH.
type RowsPerMatch uint8

// The rows-per-match modes.
const (
	OneRowPerMatch RowsPerMatch = iota + 1
	AllRowsPerMatch
)

// SkipKind is what AFTER MATCH SKIP does.
type SkipKind uint8

// The AFTER MATCH SKIP strategies.
const (
	SkipPastLastRow SkipKind = iota + 1
	SkipToNextRow
	SkipToFirst // TO FIRST var
	SkipToLast  // TO LAST var, and TO var
)

// AfterMatch is AFTER MATCH SKIP ...; Var is the variable of TO FIRST|LAST.
type AfterMatch struct {
	Spanned
	Kind SkipKind
	Var  *Ident
}

// Measure is one "expr AS name" of MEASURES.
type Measure struct {
	Spanned
	Expr  Expr
	Alias *Ident
}

// Define is one "var AS condition" of DEFINE.
type Define struct {
	Spanned
	Var  *Ident
	Cond Expr
}

// Subset is one "name = (var, ...)" of SUBSET.
type Subset struct {
	Spanned
	Name *Ident
	Vars []*Ident
}

// MatchRecognize is input MATCH_RECOGNIZE (...) [[AS] alias].
type MatchRecognize struct {
	Spanned
	Input        TableExpr
	PartitionBy  []Expr
	OrderBy      []*OrderItem
	Measures     []*Measure
	RowsPerMatch RowsPerMatch // 0 when not written
	AfterMatch   *AfterMatch
	Pattern      Pattern
	// Within is the interval of WITHIN, nil when absent.
	Within  Expr
	Subsets []*Subset
	Defines []*Define
	Alias   *Alias
}

func (*TableName) tableExpr()      {}
func (*DerivedTable) tableExpr()   {}
func (*TableFunc) tableExpr()      {}
func (*Unnest) tableExpr()         {}
func (*Join) tableExpr()           {}
func (*ParenTable) tableExpr()     {}
func (*MatchRecognize) tableExpr() {}

// Pattern is a row pattern of MATCH_RECOGNIZE: *PatternVar, *PatternSeq,
// *PatternAlt, *PatternGroup, *PatternQuant, *PatternAnchor or
// *PatternPermute.
type Pattern interface {
	Node
	patternNode()
}

// PatternVar is a pattern variable: A.
type PatternVar struct {
	Spanned
	Name *Ident
}

// PatternSeq is patterns in sequence: A B C.
type PatternSeq struct {
	Spanned
	Items []Pattern
}

// PatternAlt is alternatives: A | B.
type PatternAlt struct {
	Spanned
	Alts []Pattern
}

// PatternGroup is a parenthesised pattern: (A B). The empty pattern () has
// a nil Pattern.
type PatternGroup struct {
	Spanned
	Pattern Pattern
}

// PatternQuant is a quantified pattern: A*, A+, A?, A{n}, A{n,}, A{n,m},
// A{,m}, each followed by ? when reluctant.
type PatternQuant struct {
	Spanned
	Pattern Pattern
	Min     int
	// Max is -1 for no upper bound.
	Max       int
	Reluctant bool
	// Form is how the quantifier was written: "*", "+", "?" or "{}", so
	// A{0,1} and A? print back as written.
	Form string
}

// PatternAnchor is ^ (Start) or $.
type PatternAnchor struct {
	Spanned
	Start bool
}

// PatternPermute is PERMUTE(A, B, ...).
type PatternPermute struct {
	Spanned
	Items []Pattern
}

func (*PatternVar) patternNode()     {}
func (*PatternSeq) patternNode()     {}
func (*PatternAlt) patternNode()     {}
func (*PatternGroup) patternNode()   {}
func (*PatternQuant) patternNode()   {}
func (*PatternAnchor) patternNode()  {}
func (*PatternPermute) patternNode() {}
