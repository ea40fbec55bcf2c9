package planner

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// rankKind is what a ROW_NUMBER query computes.
type rankKind uint8

const (
	rankTopN      rankKind = iota + 1 // continuous Top-N (updating)
	rankKeepFirst                     // deduplication, the first row by rowtime (append-only)
	rankKeepLast                      // deduplication, the last row by rowtime (updating)
	rankWindow                        // window Top-N or deduplication (append-only)
)

// sortKey is one ORDER BY column of a rank.
type sortKey struct {
	col        int
	desc       bool
	nullsFirst bool
	intSlot    bool // an integer-like column (row.Row.Int): compared without a functions.Value
}

// intSlotKind reports whether values of kind k are compared as
// row.Row.Int (functions.Compare's integer case).
func intSlotKind(k types.Kind) bool {
	switch k {
	case types.Float, types.Double, types.Decimal, types.Char, types.VarChar, types.Binary, types.VarBinary,
		types.Timestamp, types.TimestampLTZ, types.Array, types.Map, types.Multiset, types.Row, types.Null:
		return false
	}
	return true
}

// rankPlan is a Top-N or deduplication over its input's rows.
type rankPlan struct {
	kind    rankKind
	keys    []int // PARTITION BY columns
	order   []sortKey
	n       int64 // the top n rows
	withRN  bool  // the row number is an output column
	timeCol int   // deduplication: the rowtime column
	in, out *row.Layout
	label   string
	// ttl is table.exec.state.ttl: a partition's state expires this long
	// (processing time) after its last write; 0: never. Not for a window
	// rank, whose state goes with its window.
	ttl time.Duration
}

// rankSelect plans the ROW_NUMBER pattern: SELECT ... FROM (SELECT ...,
// ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) AS rn FROM t) WHERE
// rn <= N [AND ...]. ok is false when sel is not of that form (a
// ROW_NUMBER without the filter is then refused by overSelect).
func (p *relPlanner) rankSelect(sel *ast.Select) (*relNode, bool, error) {
	c, src := p.c, p.c.src
	dt, ok := sel.From.(*ast.DerivedTable)
	if !ok || dt.Lateral || sel.Where == nil || sel.GroupBy != nil || len(dt.Query.With) > 0 || len(dt.Query.OrderBy) > 0 || dt.Query.Limit != nil {
		return nil, false, nil
	}
	inner, ok := dt.Query.Body.(*ast.Select)
	if !ok {
		return nil, false, nil
	}
	rnAt := -1
	var rnCall *ast.FuncCall
	for i, it := range inner.Items {
		if f, ok := it.Expr.(*ast.FuncCall); ok && strings.EqualFold(f.Name.Last().Name, "ROW_NUMBER") && (f.Over != nil || f.OverName != nil) {
			if rnAt >= 0 {
				return nil, true, diag.New(src, f.Span(), "a Top-N query takes one ROW_NUMBER()")
			}
			rnAt, rnCall = i, f
		}
	}
	if rnAt < 0 {
		return nil, false, nil
	}
	rnName := itemName(inner.Items[rnAt], rnAt)
	if dt.Alias != nil && len(dt.Alias.Columns) > 0 {
		return nil, true, diag.New(src, dt.Alias.Span(), "column aliases on a Top-N subquery are not supported yet")
	}
	// The rank condition among WHERE's conjuncts.
	var conj []ast.Expr
	var split func(e ast.Expr)
	split = func(e ast.Expr) {
		if b, ok := e.(*ast.BinaryExpr); ok && b.Op == ast.OpAnd {
			split(b.L)
			split(b.R)
			return
		}
		conj = append(conj, e)
	}
	split(sel.Where)
	var n int64
	var rest []ast.Expr
	found := false
	for _, e := range conj {
		if !found {
			if k, ok, err := rankLimit(src, e, rnName); err != nil {
				return nil, true, err
			} else if ok {
				n, found = k, true
				continue
			}
		}
		rest = append(rest, e)
	}
	if !found {
		return nil, false, nil
	}
	spec := rnCall.Over
	if rnCall.OverName != nil {
		for _, w := range inner.Windows {
			if w.Name.Name == rnCall.OverName.Name {
				spec = w.Spec
			}
		}
		if spec == nil {
			return nil, true, diag.New(src, rnCall.OverName.Span(), "Window '%s' not found", rnCall.OverName.Name)
		}
	}
	if len(rnCall.Args) > 0 {
		return nil, true, diag.New(src, rnCall.Span(), "ROW_NUMBER() takes no arguments")
	}
	if spec.Frame != nil {
		return nil, true, diag.New(src, spec.Frame.Span(), "ROW_NUMBER() takes no frame: OVER (PARTITION BY ... ORDER BY ...)")
	}
	if len(spec.OrderBy) == 0 {
		return nil, true, diag.New(src, spec.Span(), "The window rank function without order by is not supported: ROW_NUMBER() needs OVER (... ORDER BY ...)")
	}
	// The subquery without its ROW_NUMBER, planned as any SELECT.
	sub := *inner
	sub.Items = append(append([]*ast.SelectItem(nil), inner.Items[:rnAt]...), inner.Items[rnAt+1:]...)
	sub.Windows = nil
	if len(sub.Items) == 0 {
		return nil, true, diag.New(src, inner.Span(), "a Top-N subquery needs columns besides ROW_NUMBER()")
	}
	node, err := p.selectRel(&sub)
	if err != nil {
		return nil, true, err
	}
	// PARTITION BY and ORDER BY columns the subquery does not select are
	// selected as hidden columns, which the outer query does not see.
	hidden := map[string]bool{}
	var extra []*ast.SelectItem
	keyExprs := append([]ast.Expr(nil), spec.PartitionBy...)
	for _, ob := range spec.OrderBy {
		keyExprs = append(keyExprs, ob.Expr)
	}
	for _, e := range keyExprs {
		if nm, ok := e.(*ast.Name); ok && node.sc.index(nm.Last().Name) < 0 && !hidden[nm.Last().Name] {
			hidden[nm.Last().Name] = true
			extra = append(extra, &ast.SelectItem{Spanned: nm.Spanned, Expr: nm, Alias: &ast.Ident{Spanned: nm.Spanned, Name: hiddenPrefix + nm.Last().Name}})
		}
	}
	if len(extra) > 0 {
		sub.Items = append(slices.Clone(sub.Items), extra...)
		if node, err = p.selectRel(&sub); err != nil {
			return nil, true, err
		}
	}
	sc := node.sc
	if sc.index(rnName) >= 0 {
		return nil, true, diag.New(src, inner.Items[rnAt].Span(), "Duplicate name '%s' in the subquery's select list", rnName)
	}
	col := func(e ast.Expr, what string) (int, error) {
		nm, ok := e.(*ast.Name)
		if ok {
			if i := sc.index(nm.Last().Name); i >= 0 {
				return i, nil
			}
			if i := sc.index(hiddenPrefix + nm.Last().Name); i >= 0 {
				return i, nil
			}
		}
		if f, ok := e.(*ast.FuncCall); ok && strings.EqualFold(f.Name.Last().Name, "PROCTIME") {
			return -1, diag.New(src, e.Span(), "ORDER BY PROCTIME() (a processing-time Top-N or deduplication) is not supported yet: order by the rowtime attribute")
		}
		return -1, diag.New(src, e.Span(), "%s an expression is not supported yet: select '%s' AS a column in the subquery and use the column", what, ast.Format(e))
	}
	rp := &rankPlan{n: n, in: node.layout, timeCol: -1}
	var parts, orders []string
	for _, pe := range spec.PartitionBy {
		i, err := col(pe, "PARTITION BY")
		if err != nil {
			return nil, true, err
		}
		rp.keys = append(rp.keys, i)
		parts = append(parts, sc.names[i])
	}
	for _, ob := range spec.OrderBy {
		i, err := col(ob.Expr, "ORDER BY")
		if err != nil {
			return nil, true, err
		}
		nf := !ob.Desc
		switch strings.ToUpper(ob.Nulls) {
		case "FIRST":
			nf = true
		case "LAST":
			nf = false
		}
		rp.order = append(rp.order, sortKey{col: i, desc: ob.Desc, nullsFirst: nf, intSlot: intSlotKind(sc.types[i].Kind)})
		dir := "ASC"
		if ob.Desc {
			dir = "DESC"
		}
		orders = append(orders, sc.names[i]+" "+dir)
	}
	// The outer select list and the other conditions, over the rank's
	// output (the subquery's columns, then the row number).
	rankSc := &scope{names: append(append([]string(nil), sc.names...), rnName), types: append(append([]types.Type(nil), sc.types...), types.BigIntType().AsNotNull())}
	var items []ast.Expr
	var names []string
	usesRN := false
	for i, it := range sel.Items {
		if st, ok := it.Expr.(*ast.Star); ok {
			for _, nm := range rankSc.names {
				if strings.HasPrefix(nm, hiddenPrefix) {
					continue
				}
				items = append(items, &ast.Name{Spanned: st.Spanned, Parts: []*ast.Ident{{Spanned: st.Spanned, Name: nm}}})
				names = append(names, nm)
			}
			usesRN = true
			continue
		}
		items = append(items, it.Expr)
		names = append(names, itemName(it, i))
	}
	var where ast.Expr
	for _, e := range rest {
		if where == nil {
			where = e
		} else {
			where = &ast.BinaryExpr{Spanned: ast.Spanned{Loc: diag.Cover(where.Span(), e.Span())}, Op: ast.OpAnd, L: where, R: e}
		}
	}
	for _, e := range append(append([]ast.Expr(nil), items...), rest...) {
		ast.Inspect(e, func(x ast.Node) bool {
			if nm, ok := x.(*ast.Name); ok && nm.Last().Name == rnName {
				usesRN = true
			}
			return !usesRN
		})
	}
	rp.withRN = usesRN
	// What it computes: a window Top-N when partitioned by a window
	// aggregation's window; a deduplication when ordered by the rowtime
	// attribute, keeping one row, without the row number; else a Top-N.
	ob := rp.order[0]
	windowed := isWindowOutput(node) && containsAll(parts, "window_start", "window_end")
	switch {
	case windowed:
		rp.kind = rankWindow
	case !usesRN && n == 1 && len(rp.order) == 1 && sc.types[ob.col].Attr == types.Rowtime:
		rp.timeCol = ob.col
		rp.kind = rankKeepFirst
		if ob.desc {
			rp.kind = rankKeepLast
		}
	default:
		rp.kind = rankTopN
	}
	outNames := sc.names
	outTypes := sc.types
	if usesRN {
		outNames, outTypes = rankSc.names, rankSc.types
	}
	if rp.kind != rankTopN && rp.kind != rankWindow {
		outTypes = sc.types
	}
	// The rowtime attribute survives only append-only ranks.
	if rp.kind == rankTopN || rp.kind == rankKeepLast {
		outTypes = append([]types.Type(nil), outTypes...)
		for i, t := range outTypes {
			if t.Attr == types.Rowtime {
				outTypes[i] = t.WithAttr(types.Regular)
			}
		}
	}
	rp.out = layoutOf(outNames, outTypes)
	if rp.kind != rankWindow {
		if rp.ttl, err = p.stateTTL(); err != nil {
			return nil, true, err
		}
	}
	rk := &relNode{kind: relRank, name: "subquery", sc: &scope{names: outNames, types: outTypes}, layout: rp.out, inputs: []*relNode{node}, op: rp}
	if dt.Alias != nil {
		rk.name = dt.Alias.Name.Name
	}
	if rp.kind != rankWindow {
		if err := appendOnlyInput(src, dt.Span(), "StreamPhysicalRank", node); err != nil {
			return nil, true, err
		}
	}
	sel2 := strings.Join(outNames, ", ")
	switch rp.kind {
	case rankKeepFirst, rankKeepLast:
		keep := "FirstRow"
		if rp.kind == rankKeepLast {
			keep = "LastRow"
		}
		rp.label = fmt.Sprintf("Deduplicate(keep=[%s], key=[%s], order=[ROWTIME])", keep, strings.Join(parts, ", "))
	case rankWindow:
		rp.label = fmt.Sprintf("WindowRank(rankType=[ROW_NUMBER], rankRange=[rankStart=1, rankEnd=%d], partitionBy=[%s], orderBy=[%s], select=[%s])", n, strings.Join(parts, ", "), strings.Join(orders, ", "), sel2)
	default:
		rp.label = fmt.Sprintf("Rank(strategy=[AppendFastStrategy], rankType=[ROW_NUMBER], rankRange=[rankStart=1, rankEnd=%d], partitionBy=[%s], orderBy=[%s], select=[%s])", n, strings.Join(parts, ", "), strings.Join(orders, ", "), sel2)
	}
	rk.label = rp.label
	if rp.kind == rankTopN || rp.kind == rankKeepLast {
		rk.mode = &changelogMode{updates: true, upsertKey: append([]int(nil), rp.keys...), producer: rp.label}
		switch {
		case rp.withRN && rp.kind == rankTopN:
			rk.mode.upsertKey = append(rk.mode.upsertKey, len(outNames)-1)
		case rp.kind == rankTopN && n > 1:
			rk.mode.upsertKey = nil // several rows per partition, told apart by no column
		}
	}
	calc, outL, err := planCalc(c, rk.sc, where, items, names)
	if err != nil {
		return nil, true, err
	}
	l := fmt.Sprintf("Calc(select=[%s]", strings.Join(names, ", "))
	if where != nil {
		l += fmt.Sprintf(", where=[%s]", ast.Format(where))
	}
	return &relNode{kind: relCalc, name: rk.name, sc: &scope{names: layoutNames(outL), types: layoutTypes(outL)}, layout: outL, inputs: []*relNode{rk}, calc: calc, calcBase: rk.name + "-rank-calc",
		label: l + ")"}, true, nil
}

// hiddenPrefix names the columns a Top-N subquery selects for its
// PARTITION BY and ORDER BY only.
const hiddenPrefix = "$rank$"

// rankLimit reads a rank condition on column rn: rn <= N, rn < N, rn = N
// (N must be 1), N >= rn, rn BETWEEN 1 AND N. ok is false for any other
// expression.
func rankLimit(src string, e ast.Expr, rn string) (int64, bool, error) {
	isRN := func(x ast.Expr) bool {
		nm, ok := x.(*ast.Name)
		return ok && nm.Last().Name == rn
	}
	lit := func(x ast.Expr) (int64, bool) {
		nl, ok := x.(*ast.NumberLit)
		if !ok {
			return 0, false
		}
		v, err := strconv.ParseInt(nl.Text, 10, 64)
		return v, err == nil
	}
	bad := func(at ast.Node) error {
		return diag.New(src, at.Span(), "a Top-N condition must be %s <= N, %s < N or %s BETWEEN 1 AND N with N a positive integer literal", rn, rn, rn)
	}
	switch x := e.(type) {
	case *ast.BetweenExpr:
		if !isRN(x.X) {
			return 0, false, nil
		}
		lo, ok1 := lit(x.Lo)
		hi, ok2 := lit(x.Hi)
		if x.Not || !ok1 || !ok2 || hi < 1 {
			return 0, false, bad(x)
		}
		if lo != 1 {
			return 0, false, diag.New(src, x.Lo.Span(), "a Top-N starting at rank %d is not supported yet: use %s BETWEEN 1 AND N", lo, rn)
		}
		return hi, true, nil
	case *ast.BinaryExpr:
		op, l, r := x.Op, x.L, x.R
		if isRN(r) && !isRN(l) {
			l, r = r, l
			switch op {
			case ast.OpGe:
				op = ast.OpLe
			case ast.OpGt:
				op = ast.OpLt
			case ast.OpLe:
				op = ast.OpGe
			case ast.OpLt:
				op = ast.OpGt
			}
		}
		if !isRN(l) {
			return 0, false, nil
		}
		v, ok := lit(r)
		switch {
		case !ok:
			return 0, false, bad(x)
		case op == ast.OpLe && v >= 1:
			return v, true, nil
		case op == ast.OpLt && v >= 2:
			return v - 1, true, nil
		case op == ast.OpEq && v == 1:
			return 1, true, nil
		case op == ast.OpEq:
			return 0, false, diag.New(src, x.Span(), "a Top-N of only rank %d is not supported yet: use %s <= N", v, rn)
		}
		return 0, false, bad(x)
	}
	return 0, false, nil
}

// isWindowOutput reports whether n is a window aggregation's result
// (through calcs).
func isWindowOutput(n *relNode) bool {
	for n.kind == relCalc && !n.filter && n.op == nil {
		n = n.inputs[0]
	}
	return n.kind == relWindow
}

func containsAll(names []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, n := range names {
			found = found || n == w
		}
		if !found {
			return false
		}
	}
	return true
}

// compareRows orders a and b by the sort keys: -1, 0 or 1.
func (rp *rankPlan) compareRows(a, b *row.Row) int {
	for _, k := range rp.order {
		an, bn := a.IsNull(k.col), b.IsNull(k.col)
		var c int
		switch {
		case an && bn:
			continue
		case an || bn:
			c = 1
			if an == k.nullsFirst {
				c = -1
			}
			return c
		}
		if k.intSlot {
			c = cmp.Compare(a.Int(k.col), b.Int(k.col))
		} else {
			c = functions.Compare(rp.in.Type(k.col), functions.Read(a, k.col), functions.Read(b, k.col))
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
