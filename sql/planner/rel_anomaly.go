package planner

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/operators/anomaly"
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// The anomaly table functions of Kinesis Data Analytics' SQL,
// RANDOM_CUT_FOREST, RANDOM_CUT_FOREST_WITH_EXPLANATION and HOTSPOTS, as
// FROM items (docs/sql-anomaly.md). Both forms are one call:
//
//	TABLE(RANDOM_CUT_FOREST(TABLE src [PARTITION BY k], [DESCRIPTOR(v1, v2),]
//	      numberOfTrees => 100, subSampleSize => 256, ...))   -- Flink's
//	TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM src), 100, 256, 100000, 1))  -- KDA's
//
// Parameters are checked by the operators' own validation (package
// operators/anomaly), reported at the argument they concern. The node's
// rows are the input's followed by the function's columns; the model is
// the Go operator (anomaly.Operator), so the scores are the Go API's bit
// for bit, its forests kept in keyed state and checkpointed.

const relAnomaly relKind = 40

// anomalyPlan is a planned anomaly function call.
type anomalyPlan struct {
	fn    string
	op    *anomaly.Operator
	dims  []int // input columns the model scores, in order
	keys  []int // PARTITION BY columns: a model per key; none: one model
	in    *row.Layout
	out   *row.Layout
	extra []anomaly.Column // the function's columns, after the input's
}

// anomalyParam is one parameter of an anomaly function: KDA's name (also
// the named argument's) and its position after the input.
type anomalyParam struct {
	name string
	pos  int // -1: named only (Sluice's additions)
}

var anomalyParams = map[string][]anomalyParam{
	"RANDOM_CUT_FOREST": {{"numberOfTrees", 0}, {"subSampleSize", 1}, {"timeDecay", 2}, {"shingleSize", 3},
		{"seed", -1}, {"probability", -1}},
	"RANDOM_CUT_FOREST_WITH_EXPLANATION": {{"numberOfTrees", 0}, {"subSampleSize", 1}, {"timeDecay", 2}, {"shingleSize", 3},
		{"withDirectionality", 4}, {"seed", -1}, {"probability", -1}},
	"HOTSPOTS": {{"windowSize", 0}, {"scanRadius", 1}, {"minimumNumberOfPointsInAHotspot", 2}},
}

// isAnomalyCall reports whether a FROM item is a call of an anomaly
// function.
func isAnomalyCall(f *ast.TableFunc) bool {
	_, ok := anomalyParams[strings.ToUpper(f.Call.Name.Last().Name)]
	return ok
}

// tableFunc plans a table function in FROM other than a window function:
// the anomaly functions; any other is refused by name.
func (p *relPlanner) tableFunc(f *ast.TableFunc) (relInput, error) {
	src := p.c.src
	name := strings.ToUpper(f.Call.Name.Last().Name)
	if !isAnomalyCall(f) {
		return relInput{}, diag.New(src, f.Call.Name.Span(), "table function %s is not supported yet", name)
	}
	if f.Lateral {
		return relInput{}, diag.New(src, f.Span(), "LATERAL is not supported yet")
	}
	n, err := p.anomalyCall(name, f.Call)
	if err != nil {
		return relInput{}, err
	}
	return p.aliased(relInput{node: n, sc: n.sc, name: n.name}, f.Alias)
}

// anomalyCall plans fn(input, [DESCRIPTOR(...),] args...).
func (p *relPlanner) anomalyCall(fn string, call *ast.FuncCall) (*relNode, error) {
	src := p.c.src
	params := anomalyParams[fn]
	var positional []ast.Expr
	named := map[string]*ast.NamedArg{}
	var input, desc ast.Expr
	for _, a := range call.Args {
		na, ok := a.(*ast.NamedArg)
		if !ok {
			if len(named) > 0 {
				return nil, diag.New(src, a.Span(), "%s: a positional argument cannot follow a named one", fn)
			}
			positional = append(positional, a)
			continue
		}
		key := strings.ToLower(na.Name.Name)
		switch key {
		case "input":
			input = na.Value
			continue
		case "dimensions":
			desc = na.Value
			continue
		}
		i := slices.IndexFunc(params, func(pr anomalyParam) bool { return strings.EqualFold(pr.name, na.Name.Name) })
		if i < 0 {
			names := []string{"input", "dimensions"}
			for _, pr := range params {
				names = append(names, pr.name)
			}
			e := diag.New(src, na.Name.Span(), "%s has no parameter '%s'", fn, na.Name.Name)
			if best, ok := diag.Closest(na.Name.Name, names); ok {
				e.Hint = fmt.Sprintf("did you mean '%s'?", best)
			} else {
				e.Hint = "its parameters: " + strings.Join(names, ", ")
			}
			return nil, e
		}
		if _, dup := named[params[i].name]; dup {
			return nil, diag.New(src, na.Span(), "%s: parameter '%s' is given twice", fn, params[i].name)
		}
		named[params[i].name] = na
	}
	if input == nil && len(positional) > 0 {
		input, positional = positional[0], positional[1:]
	}
	if len(positional) > 0 {
		if d, ok := positional[0].(*ast.DescriptorExpr); ok {
			if desc != nil {
				return nil, diag.New(src, d.Span(), "%s: the dimensions are given twice", fn)
			}
			desc, positional = d, positional[1:]
		}
	}
	// The input: TABLE t [PARTITION BY k] or CURSOR(query).
	var in relInput
	var partition []ast.Expr
	switch x := input.(type) {
	case *ast.TableArg:
		if len(x.OrderBy) > 0 {
			return nil, diag.New(src, x.OrderBy[0].Span(), "ORDER BY in the table argument of %s is not supported yet: the function scores rows in the order they arrive, as KDA's did", fn)
		}
		var err error
		if in, err = p.named(x.Table); err != nil {
			return nil, err
		}
		partition = x.PartitionBy
	case *ast.CursorExpr:
		n, err := p.query(x.Query)
		if err != nil {
			return nil, err
		}
		in = relInput{node: n, sc: n.sc, name: "cursor"}
	default:
		at := call.Span()
		if input != nil {
			at = input.Span()
		}
		return nil, diag.New(src, at, "%s needs its input first: TABLE t [PARTITION BY k] or CURSOR(SELECT STREAM * FROM s)", fn)
	}
	if err := appendOnlyInput(src, input.Span(), fn, in.node); err != nil {
		return nil, err
	}
	// The parameters in KDA's order; nil is the default.
	nPos := 0
	for _, pr := range params {
		if pr.pos >= 0 {
			nPos++
		}
	}
	if len(positional) > nPos {
		return nil, diag.New(src, positional[nPos].Span(), "%s takes at most %d arguments after its input, got %d", fn, nPos, len(positional))
	}
	argExpr := map[string]ast.Expr{}
	for i, a := range positional {
		pr := params[slices.IndexFunc(params, func(pr anomalyParam) bool { return pr.pos == i })]
		if na, dup := named[pr.name]; dup {
			return nil, diag.New(src, na.Span(), "%s: parameter '%s' is given twice (positionally and by name)", fn, pr.name)
		}
		argExpr[pr.name] = a
	}
	for name, na := range named {
		argExpr[name] = na.Value
	}
	vals := map[string]any{}
	for name, e := range argExpr {
		v, err := literalArg(src, fn, name, e)
		if err != nil {
			return nil, err
		}
		vals[name] = v
	}
	// Reports a parameter error of the operators' validation at the
	// argument it names.
	paramErr := func(err error) error {
		msg := strings.TrimSuffix(strings.TrimPrefix(err.Error(), "anomaly: "), " (in "+fn+")")
		at := call.Span()
		best := -1
		for name, e := range argExpr {
			if i := strings.Index(msg, name); i >= 0 && (best < 0 || i < best) {
				best, at = i, e.Span()
			}
		}
		if d, ok := desc.(*ast.DescriptorExpr); ok && best < 0 {
			// A column the operator refused (DECIMAL, say).
			for _, id := range d.Columns {
				if strings.Contains(msg, fmt.Sprintf("%q", id.Name)) {
					at = id.Span()
				}
			}
		}
		return diag.New(src, at, "%s: %s", fn, msg)
	}
	// The key and scored columns.
	keys, err := p.anomalyKeys(fn, in, partition)
	if err != nil {
		return nil, err
	}
	dims, err := p.anomalyDims(fn, in, desc, keys, input.Span())
	if err != nil {
		return nil, err
	}
	schema := make(anomaly.Schema, 0, len(dims)+1)
	for _, i := range dims {
		schema = append(schema, anomaly.Column{Name: in.sc.names[i], Type: anomalyType(in.sc.types[i])})
	}
	schema = append(schema, anomaly.Column{Name: "$row", Type: anomaly.TypeOther}) // the input row, passed through
	ap := &anomalyPlan{fn: fn, dims: dims, keys: keys, in: in.node.layout}
	var label []string
	if fn == "HOTSPOTS" {
		args := []any{vals["windowSize"], vals["scanRadius"], vals["minimumNumberOfPointsInAHotspot"]}
		for i, a := range args {
			if a == nil {
				return nil, diag.New(src, call.Span(), "%s needs %s (all three of windowSize, scanRadius and minimumNumberOfPointsInAHotspot)", fn, params[i].name)
			}
		}
		hp, err := anomaly.HotspotsParamsFromArgs(args)
		if err != nil {
			return nil, paramErr(err)
		}
		if ap.op, err = anomaly.PlanHotspots(schema, hp, anomaly.OperatorOptions{}); err != nil {
			return nil, paramErr(err)
		}
		label = []string{fmt.Sprintf("windowSize=[%d]", hp.WindowSize), fmt.Sprintf("scanRadius=[%v]", hp.ScanRadius),
			fmt.Sprintf("minimumNumberOfPointsInAHotspot=[%d]", hp.MinimumNumberOfPointsInAHotspot)}
	} else {
		explain := fn == "RANDOM_CUT_FOREST_WITH_EXPLANATION"
		args := make([]any, 4, 5)
		for i, name := range []string{"numberOfTrees", "subSampleSize", "timeDecay", "shingleSize"} {
			v := vals[name]
			// KDA: -1 (or leaving it out) means the default.
			if n, ok := v.(int64); ok && n == -1 {
				v = nil
			}
			args[i] = v
		}
		if explain {
			args = append(args, vals["withDirectionality"])
		}
		rp, err := anomaly.RCFParamsFromArgs(args, explain)
		if err != nil {
			return nil, paramErr(err)
		}
		if v, ok := vals["seed"]; ok && v != nil {
			n, ok := v.(int64)
			if !ok || n < 0 {
				return nil, diag.New(src, argExpr["seed"].Span(), "%s: seed must be a non-negative integer", fn)
			}
			rp.Seed = uint64(n)
		}
		if v, ok := vals["probability"]; ok && v != nil {
			b, ok := v.(bool)
			if !ok {
				return nil, diag.New(src, argExpr["probability"].Span(), "%s: probability must be TRUE or FALSE", fn)
			}
			rp.Probability = b
		}
		if explain {
			ap.op, err = anomaly.PlanRandomCutForestWithExplanation(schema, rp, anomaly.OperatorOptions{})
		} else {
			ap.op, err = anomaly.PlanRandomCutForest(schema, rp, anomaly.OperatorOptions{})
		}
		if err != nil {
			return nil, paramErr(err)
		}
		d := func(v, def int) int {
			if v == 0 {
				return def
			}
			return v
		}
		label = []string{fmt.Sprintf("numberOfTrees=[%d]", d(rp.NumberOfTrees, anomaly.DefaultNumberOfTrees)),
			fmt.Sprintf("subSampleSize=[%d]", d(rp.SubSampleSize, anomaly.DefaultSampleSize)),
			fmt.Sprintf("timeDecay=[%d]", d(rp.TimeDecay, anomaly.DefaultTimeDecay)),
			fmt.Sprintf("shingleSize=[%d]", d(rp.ShingleSize, anomaly.DefaultShingleSize))}
		if explain {
			label = append(label, fmt.Sprintf("withDirectionality=[%v]", rp.WithDirectionality))
		}
		label = append(label, fmt.Sprintf("seed=[%d]", rp.Seed), fmt.Sprintf("probability=[%v]", rp.Probability))
	}
	// The output: the input's columns, then the function's.
	outS := ap.op.OutputSchema()
	ap.extra = outS[len(schema):]
	names := slices.Clone(in.sc.names)
	ts := slices.Clone(in.sc.types)
	for _, c := range ap.extra {
		if slices.Contains(names, c.Name) {
			return nil, diag.New(src, input.Span(), "%s: input column '%s' clashes with the output column of that name", fn, c.Name)
		}
		names = append(names, c.Name)
		if c.Type == anomaly.TypeVarchar {
			ts = append(ts, types.StringType().WithNullable(false))
		} else {
			ts = append(ts, types.DoubleType().WithNullable(false))
		}
	}
	ap.out = layoutOf(names, ts)
	n := &relNode{kind: relAnomaly, name: in.name, sc: &scope{names: names, types: ts}, layout: ap.out, inputs: []*relNode{in.node}, anomaly: ap}
	var dimNames, keyNames []string
	for _, i := range dims {
		dimNames = append(dimNames, in.sc.names[i])
	}
	for _, i := range keys {
		keyNames = append(keyNames, in.sc.names[i])
	}
	l := fmt.Sprintf("%s(dimensions=[%s]", anomalyOpName(fn), strings.Join(dimNames, ", "))
	if len(keys) > 0 {
		l += fmt.Sprintf(", partitionBy=[%s]", strings.Join(keyNames, ", "))
	}
	n.label = l + ", " + strings.Join(label, ", ") + ")"
	return n, nil
}

// anomalyOpName is a function's name in EXPLAIN: RandomCutForest, ...
func anomalyOpName(fn string) string {
	var b strings.Builder
	for _, w := range strings.Split(strings.ToLower(fn), "_") {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// anomalyKeys resolves PARTITION BY: plain columns of the input.
func (p *relPlanner) anomalyKeys(fn string, in relInput, partition []ast.Expr) ([]int, error) {
	src := p.c.src
	var keys []int
	for _, e := range partition {
		nm, ok := e.(*ast.Name)
		if !ok {
			return nil, diag.New(src, e.Span(), "%s: PARTITION BY takes columns of the input, not expressions", fn)
		}
		i, err := p.anomalyColumn(in, nm.Last())
		if err != nil {
			return nil, err
		}
		if slices.Contains(keys, i) {
			return nil, diag.New(src, e.Span(), "%s: column '%s' is in PARTITION BY twice", fn, nm.Last().Name)
		}
		keys = append(keys, i)
	}
	return keys, nil
}

// anomalyDims resolves the scored columns: DESCRIPTOR's, or, as KDA, every
// numeric column but the keys.
func (p *relPlanner) anomalyDims(fn string, in relInput, desc ast.Expr, keys []int, at diag.Span) ([]int, error) {
	src := p.c.src
	var dims []int
	if desc == nil {
		for i, t := range in.sc.types {
			if t.IsNumeric() && !slices.Contains(keys, i) {
				dims = append(dims, i)
			}
		}
		if len(dims) == 0 {
			return nil, diag.New(src, at, "%s: the input has no numeric column to score (DOUBLE, FLOAT, INT, BIGINT, SMALLINT, TINYINT)", fn)
		}
		return dims, nil
	}
	d, ok := desc.(*ast.DescriptorExpr)
	if !ok || len(d.Columns) == 0 {
		return nil, diag.New(src, desc.Span(), "%s: the dimensions are DESCRIPTOR(column, ...)", fn)
	}
	for _, id := range d.Columns {
		i, err := p.anomalyColumn(in, id)
		if err != nil {
			return nil, err
		}
		switch {
		case slices.Contains(dims, i):
			return nil, diag.New(src, id.Span(), "%s: column '%s' is in DESCRIPTOR twice", fn, id.Name)
		case slices.Contains(keys, i):
			return nil, diag.New(src, id.Span(), "%s: column '%s' is a PARTITION BY key, which is not scored", fn, id.Name)
		case !in.sc.types[i].IsNumeric():
			return nil, diag.New(src, id.Span(), "%s: column '%s' is %s; the dimensions must be numeric (DOUBLE, FLOAT, INT, BIGINT, SMALLINT, TINYINT)", fn, id.Name, in.sc.types[i])
		}
		dims = append(dims, i)
	}
	return dims, nil
}

func (p *relPlanner) anomalyColumn(in relInput, id *ast.Ident) (int, error) {
	i := in.sc.index(id.Name)
	if i < 0 {
		e := diag.New(p.c.src, id.Span(), "Column '%s' not found in table '%s'", id.Name, in.name)
		if best, ok := diag.Closest(id.Name, in.sc.names); ok {
			e.Hint = fmt.Sprintf("did you mean '%s'?", best)
		}
		return 0, e
	}
	return i, nil
}

// anomalyType is the operator's type of a column: its numeric types, and
// DECIMAL, which the operator refuses with its message.
func anomalyType(t types.Type) anomaly.ColumnType {
	switch t.Kind {
	case types.Double:
		return anomaly.TypeDouble
	case types.Float:
		return anomaly.TypeReal
	case types.Int:
		return anomaly.TypeInteger
	case types.BigInt:
		return anomaly.TypeBigint
	case types.SmallInt:
		return anomaly.TypeSmallint
	case types.TinyInt:
		return anomaly.TypeTinyint
	case types.Decimal:
		return anomaly.TypeDecimal
	}
	return anomaly.TypeOther
}

// literalArg is an argument's value: an integer (int64), a number
// (float64), a boolean, or nil for NULL. Anything else is refused.
func literalArg(src, fn, name string, e ast.Expr) (any, error) {
	neg := false
	x := e
	if u, ok := x.(*ast.UnaryExpr); ok && (u.Op == ast.OpNeg || u.Op == ast.OpPlus) {
		neg, x = u.Op == ast.OpNeg, u.X
	}
	switch l := x.(type) {
	case *ast.NumberLit:
		if !l.Approx && !strings.ContainsAny(l.Text, ".eE") {
			n, err := strconv.ParseInt(l.Text, 10, 64)
			if err == nil {
				if neg {
					n = -n
				}
				return n, nil
			}
		}
		f, err := strconv.ParseFloat(l.Text, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, diag.New(src, e.Span(), "%s: %s: bad number %s", fn, name, l.Text)
		}
		if neg {
			f = -f
		}
		return f, nil
	case *ast.BoolLit:
		if !neg {
			return l.Value, nil
		}
	case *ast.NullLit:
		if !neg {
			return nil, nil
		}
	}
	return nil, diag.New(src, e.Span(), "%s: %s must be a literal, not %s", fn, name, ast.Format(e))
}

// anomalyLine is the function's line in EXPLAIN's engine job.
func (w *physWriter) anomalyLine(n *relNode) {
	ap := n.anomaly
	base := strings.ToLower(strings.ReplaceAll(ap.fn, "_", "-"))
	n.opName, _ = w.p.unique(w.ip.sink.Name + "-" + base)
	in := n.inputs[0]
	model := "forest"
	if ap.fn == "HOTSPOTS" {
		model = "window"
	}
	var how string
	if len(ap.keys) > 0 {
		var keys []string
		for _, k := range ap.keys {
			keys = append(keys, in.sc.names[k])
		}
		how = fmt.Sprintf("hash exchange on [%s]; state: a %s per key, in keyed state", strings.Join(keys, ", "), model)
	} else {
		how = fmt.Sprintf("all rows to one subtask: runs at parallelism 1; state: one %s, in keyed state", model)
	}
	if in.opName != w.last {
		how = fmt.Sprintf("reads %q; %s", in.opName, how)
	}
	w.ip.physical = append(w.ip.physical, fmt.Sprintf("  -> %s %q (%s)", base, n.opName, how))
}

// buildAnomaly lowers an anomaly function: each row goes to the model as
// its scored values and the row itself; the model's output becomes the
// input row followed by the function's columns. Rows the model refuses (a
// NULL in a scored column) go to the operator's error output, counted in
// its error_records metric.
func buildAnomaly(s *engine.Stream[*row.Row], ap *anomalyPlan, name string) *engine.Stream[*row.Row] {
	nd := len(ap.dims)
	dims := ap.dims
	floats := make([]bool, nd)
	for k, i := range dims {
		floats[k] = ap.in.Type(i).Kind == types.Double || ap.in.Type(i).Kind == types.Float
	}
	toModel := engine.Map(s, name+"-in", func(r *row.Row) anomaly.Row {
		ar := make(anomaly.Row, nd+1)
		for k, i := range dims {
			switch {
			case r.IsNull(i):
			case floats[k]:
				ar[k] = r.Float(i)
			default:
				ar[k] = r.Int(i)
			}
		}
		ar[nd] = r
		return ar
	})
	var scored *engine.Stream[anomaly.Row]
	if len(ap.keys) > 0 {
		kf := anomalyKeyFunc(ap.in, ap.keys)
		ks := engine.KeyBy(toModel, func(ar anomaly.Row) string { return kf(ar[nd].(*row.Row)) })
		scored = anomaly.ApplyByKey(ap.op, ks, name)
	} else {
		scored = ap.op.Apply(toModel, name)
	}
	out, nin, extra := ap.out, ap.in.Len(), ap.extra
	res := engine.Map(scored, name+"-out", func(ar anomaly.Row) *row.Row {
		in := ar[nd].(*row.Row)
		o := out.New()
		for i := range nin {
			functions.Write(o, i, functions.Read(in, i))
		}
		for k, c := range extra {
			v := ar[nd+1+k]
			if c.Type == anomaly.TypeVarchar {
				o.SetStr(nin+k, v.(string))
			} else {
				o.SetFloat(nin+k, v.(float64))
			}
		}
		return o
	})
	if len(ap.keys) == 0 {
		// One model's output, in its order.
		res = res.SetParallelism(1)
	}
	return res
}

// anomalyKeyFunc is a row's key for PARTITION BY: the print form of each
// key column, joined by commas. A key's model is seeded with
// anomaly.KeySeed(seed, key), so the Go API reproduces SQL's per-key
// scores by keying with the same string (for one column, its value as
// fmt.Sprint prints integers and strings, as anomaly.KeyByColumn keys).
func anomalyKeyFunc(l *row.Layout, keys []int) func(*row.Row) string {
	return func(r *row.Row) string {
		var b []byte
		for j, i := range keys {
			if j > 0 {
				b = append(b, ',')
			}
			b = row.AppendJava(b, l.Type(i), r.Get(i))
		}
		return string(b)
	}
}
