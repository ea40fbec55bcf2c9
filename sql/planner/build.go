package planner

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/operators"
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
	"github.com/sluicehq/sluice/state"
)

// describe fills the logical plan and the engine operators for EXPLAIN.
func (ip *insertPlan) describe(where ast.Expr, sel *ast.Select) {
	sinkCols := strings.Join(layoutNames(ip.sinkL), ", ")
	ip.logical = append(ip.logical, fmt.Sprintf("Sink(table=[%s], connector=[%s], fields=[%s])", ip.sink.Name, ip.sink.Factory.Name(), sinkCols))
	if ip.window != nil {
		wp := ip.window
		tc := ip.src.sc.names[wp.timeCol]
		var w string
		switch wp.kind {
		case "HOP":
			w = fmt.Sprintf("HOP(time_col=[%s], slide=[%v], size=[%v])", tc, wp.slide, wp.size)
		case "CUMULATE":
			w = fmt.Sprintf("CUMULATE(time_col=[%s], max_size=[%v], step=[%v])", tc, wp.size, wp.slide)
		case "SESSION":
			w = fmt.Sprintf("SESSION(time_col=[%s], gap=[%v])", tc, wp.size)
		default:
			w = fmt.Sprintf("TUMBLE(time_col=[%s], size=[%v])", tc, wp.size)
		}
		if wp.offset != 0 {
			w = strings.TrimSuffix(w, ")") + fmt.Sprintf(", offset=[%v])", wp.offset)
		}
		var keys, items []string
		for _, k := range wp.keys {
			keys = append(keys, ip.src.sc.names[k])
		}
		for _, it := range sel.Items {
			items = append(items, ast.Format(it.Expr))
		}
		ip.logical = append(ip.logical, fmt.Sprintf("WindowAggregate(window=[%s], groupBy=[%s], select=[%s])", w, strings.Join(keys, ", "), strings.Join(items, ", ")))
		if where != nil {
			ip.logical = append(ip.logical, fmt.Sprintf("Calc(where=[%s])", ast.Format(where)))
		}
	} else {
		var items []string
		for _, n := range layoutNames(ip.calcOut) {
			items = append(items, n)
		}
		calc := fmt.Sprintf("Calc(select=[%s]", strings.Join(items, ", "))
		if where != nil {
			calc += fmt.Sprintf(", where=[%s]", ast.Format(where))
		}
		ip.logical = append(ip.logical, calc+")")
	}
	scan := fmt.Sprintf("TableSourceScan(table=[%s], connector=[%s], fields=[%s]", ip.src.table.Name, ip.src.table.Factory.Name(), strings.Join(ip.src.sc.names, ", "))
	if w := ip.src.table.Watermark; w != nil {
		scan += fmt.Sprintf(", watermark=[%s])", ast.Format(w.Expr))
	} else {
		scan += ")"
	}
	ip.logical = append(ip.logical, scan)

	srcDesc := "datagen"
	if len(ip.src.sc.names) > len(physicalOf(ip.src.table)) {
		srcDesc += ", computed columns"
	}
	if ip.src.rowtime >= 0 {
		srcDesc += fmt.Sprintf(", watermarks %v behind %s", ip.src.delay, ip.src.sc.names[ip.src.rowtime])
	} else {
		srcDesc += ", no watermarks"
	}
	if ip.idle > 0 {
		srcDesc += fmt.Sprintf(", idle after %v", ip.idle)
	}
	ip.physical = append(ip.physical, fmt.Sprintf("source %q (%s)", ip.op(ip.src.table.Name), srcDesc))
	if ip.window != nil {
		ip.physical = append(ip.physical, fmt.Sprintf("  -> calc %q (forward, chained)", ip.op(ip.src.table.Name+"-calc")))
		ip.physical = append(ip.physical, fmt.Sprintf("  -> window %q (hash exchange on [%s]; state: %d accumulators per key and window)", ip.windowName(), strings.Join(ip.keyNames(), ", "), len(ip.window.aggs)))
	} else {
		ip.physical = append(ip.physical, fmt.Sprintf("  -> calc %q (forward, chained; stateless)", ip.op(ip.src.table.Name+"-calc")))
	}
	if ip.sinkCast != nil {
		ip.physical = append(ip.physical, fmt.Sprintf("  -> cast %q (forward, chained; to the sink's column types)", ip.op(ip.sink.Name+"-cast")))
		ip.physical = append(ip.physical, fmt.Sprintf("  -> sink %q (%s)", ip.op(ip.sink.Name), ip.sink.Factory.Name()))
	} else {
		ip.physical = append(ip.physical, fmt.Sprintf("  -> sink %q (%s; no cast: the query's columns are of the sink's types)", ip.op(ip.sink.Name), ip.sink.Factory.Name()))
	}
}

func (ip *insertPlan) keyNames() []string {
	var ks []string
	for _, k := range ip.window.keys {
		ks = append(ks, ip.src.sc.names[k])
	}
	return ks
}

func (ip *insertPlan) windowName() string { return ip.op(ip.sink.Name + "-window") }

// op names an operator of the plan: the INSERTs of a statement set after
// the first number theirs, so that uids stay distinct.
func (ip *insertPlan) op(base string) string {
	if ip.seq == 0 {
		return base
	}
	return fmt.Sprintf("%s#%d", base, ip.seq+1)
}

func (ip *insertPlan) build(j *engine.Job, o RunOptions) error {
	s, err := ip.buildSource(j)
	if err != nil {
		return err
	}
	s = engine.Process[*row.Row, *row.Row](s, ip.op(ip.src.table.Name+"-calc"), &rowProcess{newFn: ip.calc, owns: true})
	if ip.window != nil {
		s = ip.buildWindow(s)
	}
	if ip.sinkCast != nil {
		s = engine.Process[*row.Row, *row.Row](s, ip.op(ip.sink.Name+"-cast"), &rowProcess{newFn: ip.sinkCast, owns: true})
	}
	return ip.buildSink(s, o)
}

// buildSource is the datagen source: row i is a function of i.
func (ip *insertPlan) buildSource(j *engine.Job) (*engine.Stream[*row.Row], error) {
	t := ip.src.table
	opts := t.Options
	var count int64
	if v, ok := opts["number-of-rows"]; ok {
		count, _ = strconv.ParseInt(v, 10, 64)
	}
	rate := 10000.0
	if v, ok := opts["rows-per-second"]; ok {
		rate, _ = strconv.ParseFloat(v, 64)
	}
	var gens []func(i int64, r *row.Row)
	field := 0
	for _, col := range t.Columns {
		if col.Expr != nil {
			continue
		}
		g, n := fieldGen(field, col.Name, col.Type, opts)
		if n > 0 && (count == 0 || n < count) {
			count = n
		}
		gens = append(gens, g)
		field++
	}
	layout := ip.src.layout
	comp := ip.src.computed
	hasComputed := len(t.Columns) > len(gens)
	// Without a window every row is released downstream (by the calc, the
	// cast or the sink: see rowProcess), so the rows are recycled; before
	// a window they end in the window's input and are allocated.
	var rec *row.Recycler
	if ip.window == nil {
		rec = layout.NewRecycler()
	}
	// One generator per subtask: its own row allocator and computed
	// column evaluator.
	newGen := func() func(int64) *row.Row {
		alloc := layout.NewAllocator(rowBatch)
		var cache *row.Cache
		if rec != nil {
			cache = rec.NewCache()
		}
		computed := comp.get()
		return func(i int64) *row.Row {
			var r *row.Row
			if cache != nil {
				r = cache.Get()
			} else {
				r = alloc.New()
			}
			for _, g := range gens {
				g(i, r)
			}
			if hasComputed {
				if err := computed(r); err != nil {
					// The generator cannot return an error; the engine turns
					// the panic into the source operator's failure, naming it.
					panic(fmt.Errorf("table %s: computed column: %w", t.Name, err))
				}
			}
			return r
		}
	}
	src := perSubtaskGen{opts: datagen.Options{Count: count, RatePerSecond: rate}, newGen: newGen}
	ws := engine.NoWatermarks[*row.Row]()
	if rt := ip.src.rowtime; rt >= 0 {
		ws = engine.BoundedOutOfOrderness(ip.src.delay, func(r *row.Row) int64 {
			if r.IsNull(rt) {
				return math.MinInt64
			}
			return r.Timestamp(rt).Millis
		})
	}
	if ip.idle > 0 {
		ws = ws.WithIdleness(ip.idle)
	}
	return engine.SourceOf(j, ip.op(t.Name), src, ws), nil
}

// rowBatch is how many rows an operator allocates at once (row.Allocator).
const rowBatch = 128

// perSubtaskGen is a datagen source whose generator function is made per
// subtask reader, so that it may keep unsynchronised state.
type perSubtaskGen struct {
	opts   datagen.Options
	newGen func() func(int64) *row.Row
}

func (s perSubtaskGen) Open(ctx context.Context, info engine.SourceInfo) (engine.SourceReader[*row.Row], error) {
	r, err := datagen.Source(s.opts, s.newGen()).Open(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("table source: %w", err)
	}
	return r, nil
}

// mix is splitmix64: the random values of field f in row i.
func mix(i int64, f int) uint64 {
	z := uint64(i)*0x9e3779b97f4a7c15 + uint64(f+1)*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// fieldGen is one physical column's generator and, for a sequence, the
// number of values it has.
func fieldGen(f int, name string, t types.Type, opts map[string]string) (func(int64, *row.Row), int64) {
	p := "fields." + name + "."
	num := func(k string, def float64) float64 {
		if v, ok := opts[p+k]; ok {
			x, _ := strconv.ParseFloat(v, 64)
			return x
		}
		return def
	}
	nullRate := num("null-rate", 0)
	isNull := func(i int64) bool {
		return nullRate > 0 && float64(mix(i, f+1000)>>11)/(1<<53) < nullRate
	}
	dst := f
	if opts[p+"kind"] == "sequence" {
		start, end := int64(num("start", 0)), int64(num("end", 0))
		n := max(0, end-start+1)
		if classOf(t) == classInt && !t.IsCharString() && nullRate == 0 {
			// The common case, without a type switch per row.
			return func(i int64, r *row.Row) { r.SetInt(dst, start+i) }, n
		}
		return func(i int64, r *row.Row) {
			v := start + i
			if isNull(i) {
				r.SetNull(dst)
				return
			}
			setNumber(r, dst, t, float64(v), v)
		}, n
	}
	switch {
	case t.IsCharString():
		length := int(num("length", 100))
		if t.Kind != types.VarChar || t.Precision < length {
			length = min(length, t.Precision)
		}
		return func(i int64, r *row.Row) {
			if isNull(i) {
				r.SetNull(dst)
				return
			}
			b := make([]byte, length)
			for k := range b {
				b[k] = "0123456789abcdef"[mix(i*int64(length+1)+int64(k), f)&15]
			}
			r.SetStr(dst, string(b))
		}, 0
	case t.Kind == types.Boolean:
		return func(i int64, r *row.Row) {
			if isNull(i) {
				r.SetNull(dst)
				return
			}
			functions.Write(r, dst, functions.Bool(mix(i, f)&1 == 1))
		}, 0
	}
	lo, hi := typeRange(t)
	lo, hi = num("min", lo), num("max", hi)
	return func(i int64, r *row.Row) {
		if isNull(i) {
			r.SetNull(dst)
			return
		}
		u := mix(i, f)
		if t.IsApproximate() || t.Kind == types.Decimal {
			x := lo + (hi-lo)*float64(u>>11)/(1<<53)
			setNumber(r, dst, t, x, int64(x))
			return
		}
		span := uint64(int64(hi)-int64(lo)) + 1
		v := int64(lo)
		if span != 0 {
			v += int64(u % span)
		} else {
			v = int64(u)
		}
		setNumber(r, dst, t, float64(v), v)
	}, 0
}

func typeRange(t types.Type) (float64, float64) {
	switch t.Kind {
	case types.TinyInt:
		return math.MinInt8, math.MaxInt8
	case types.SmallInt:
		return math.MinInt16, math.MaxInt16
	case types.Int:
		return math.MinInt32, math.MaxInt32
	case types.BigInt:
		return math.MinInt64, math.MaxInt64
	}
	return 0, 1
}

func setNumber(r *row.Row, i int, t types.Type, f float64, n int64) {
	switch {
	case t.IsCharString():
		r.SetStr(i, strconv.FormatInt(n, 10))
	case t.IsApproximate():
		r.SetFloat(i, f)
	case t.Kind == types.Decimal:
		d, ok := row.DecimalFromFloat64(f, t.Scale)
		if !ok {
			r.SetNull(i)
			return
		}
		r.SetDecimal(i, d)
	default:
		r.SetInt(i, n)
	}
}

// accs is one key and window's aggregate state.
type accs []functions.Accumulator

// rowAggregator folds input rows into accs; it is shared by the window's
// subtasks, so the per-row evaluation comes from a pool.
type rowAggregator struct {
	aggs  []*aggSpec
	input *pooled[func(*row.Row, []functions.Accumulator) error]
}

func (a *rowAggregator) CreateAccumulator() accs {
	as := make(accs, len(a.aggs))
	for i, s := range a.aggs {
		as[i] = s.agg.New()
	}
	return as
}

func (a *rowAggregator) Add(in *row.Row, acc accs) accs {
	f := a.input.get()
	err := f(in, acc)
	a.input.put(f)
	if err != nil {
		// state.Aggregator.Add cannot return an error; the engine turns
		// the panic into the window operator's failure, naming it.
		panic(fmt.Errorf("window aggregation: %w", err))
	}
	return acc
}

func (a *rowAggregator) Result(acc accs) accs { return acc }

func (a *rowAggregator) Merge(x, y accs) accs {
	for i := range x {
		x[i].Merge(y[i])
	}
	return x
}

// AccumulatorCodec is the state codec of the accumulators: each one's
// state, length-prefixed.
func (a *rowAggregator) AccumulatorCodec() state.Codec[accs] { return accCodec{a} }

type accCodec struct{ a *rowAggregator }

func (c accCodec) Append(dst []byte, v accs) []byte {
	var buf []byte
	for _, x := range v {
		buf = x.AppendState(buf[:0])
		dst = binary.AppendUvarint(dst, uint64(len(buf)))
		dst = append(dst, buf...)
	}
	return dst
}

func (c accCodec) Decode(src []byte) (accs, error) {
	v := c.a.CreateAccumulator()
	for _, x := range v {
		n, k := binary.Uvarint(src)
		if k <= 0 || uint64(len(src)-k) < n {
			return nil, errors.New("planner: corrupt accumulator state")
		}
		if err := x.DecodeState(src[k : k+int(n)]); err != nil {
			return nil, fmt.Errorf("planner: accumulator state: %w", err)
		}
		src = src[k+int(n):]
	}
	return v, nil
}

func (ip *insertPlan) buildWindow(s *engine.Stream[*row.Row]) *engine.Stream[*row.Row] {
	wp := ip.window
	enc := row.NewKeyEncoder(ip.src.layout, wp.keys)
	ks := engine.KeyBy(s, func(r *row.Row) string { return enc.Key(r) })
	var assigner operators.Assigner
	switch wp.kind {
	case "HOP":
		assigner = operators.Sliding(wp.size, wp.slide)
	case "CUMULATE":
		assigner = operators.Cumulate(wp.slide, wp.size)
	case "SESSION":
		// Sessions are per key: the stream is keyed by the GROUP BY keys,
		// which planWindow checked against SESSION's PARTITION BY.
		assigner = operators.Session(wp.size)
	default:
		assigner = operators.Tumbling(wp.size)
	}
	if wp.offset != 0 {
		assigner = assigner.WithOffset(wp.offset)
	}
	name := ip.windowName()
	agg := &rowAggregator{aggs: wp.aggs, input: newPooled(wp.newAggInput)}
	w := operators.Window(ks, name, assigner)
	out := wp.out
	keyL := wp.keyLayout
	return operators.AggregateProcess(w, state.Aggregator[*row.Row, accs, accs](agg), operators.ProcessWindowFunc[string, accs, *row.Row](
		func(key string, results []accs, ctx *operators.WindowContext[*row.Row]) error {
			kr := keyL.New()
			if _, err := enc.Decode([]byte(key), kr); err != nil {
				return err
			}
			win := ctx.Window()
			for _, res := range results {
				r := out.New()
				for i, it := range wp.items {
					switch it.kind {
					case itemWindowStart:
						r.SetTimestamp(i, row.TimestampFromMillis(win.Start))
					case itemWindowEnd:
						r.SetTimestamp(i, row.TimestampFromMillis(win.End))
					case itemWindowTime:
						r.SetTimestamp(i, row.TimestampFromMillis(win.End-1))
					case itemKey:
						functions.Write(r, i, functions.Read(kr, it.idx))
					case itemAgg:
						functions.Write(r, i, res[it.idx].Result())
					}
				}
				ctx.Emit(r)
			}
			return nil
		}))
}

// lockedWriter serialises the print sinks' subtasks' lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (ip *insertPlan) buildSink(s *engine.Stream[*row.Row], o RunOptions) error {
	t := ip.sink
	switch t.Factory.Name() {
	case "print":
		w := o.Stdout
		if t.Options["standard-error"] == "true" {
			w = o.Stderr
		}
		prefix := ""
		if id := t.Options["print-identifier"]; id != "" {
			prefix = id + "> "
		}
		engine.SinkTo(s, ip.op(t.Name), releasingSink(func(r *row.Row) error {
			line := append([]byte(prefix), r.AppendJava(nil)...)
			line = append(line, '\n')
			_, err := w.Write(line) // a lockedWriter (Program.Build)
			return err
		}))
	case "blackhole":
		engine.SinkTo(s, ip.op(t.Name), releasingSink(func(*row.Row) error { return nil }))
	case "filesystem":
		js := engine.Map(s, ip.op(t.Name+"-json"), func(r *row.Row) json.RawMessage { return r.AppendJSON(nil) })
		engine.SinkTo(js, ip.op(t.Name), file.JSONLines[json.RawMessage](t.Options["path"]))
	default:
		return fmt.Errorf("writing connector '%s' is not supported yet", t.Factory.Name())
	}
	return nil
}

func physicalOf(t *catalog.Table) []string {
	var ns []string
	for _, c := range t.Columns {
		if c.Expr == nil {
			ns = append(ns, c.Name)
		}
	}
	return ns
}

// rowProcess runs a compiled row function; each parallel instance compiles
// its own in Open (engine.Process copies the struct per instance), so
// evaluators are never shared between goroutines.
//
// owns says the operator is the only consumer of its input stream and
// its producer never touches a row after emitting it, so that an input
// row the function did not pass on (dropped, or replaced by a new output
// row) has no other holder and is released (row.Row.Release) for reuse.
// Every producer in a plan hands rows off that way; set owns only where
// the input stream has no other consumer.
type rowProcess struct {
	newFn func() (rowFn, error)
	owns  bool
	f     rowFn
	dead  row.Releaser
}

func (p *rowProcess) Open(*engine.RuntimeContext) error {
	f, err := p.newFn()
	p.f = f
	return err
}

func (p *rowProcess) ProcessElement(in *row.Row, ctx *engine.Context[*row.Row]) error {
	out, keep, err := p.f(in)
	if err != nil {
		return err
	}
	if keep {
		ctx.Emit(out)
	}
	if p.owns && (!keep || out != in) {
		p.dead.Add(in)
	}
	return nil
}

// releasingSink is a sink calling write for each row and then releasing
// the row (row.Releaser): a sink is its rows' last holder, so write must
// not keep the row.
type releasingSink func(r *row.Row) error

func (f releasingSink) Open(context.Context, engine.SinkInfo) (engine.SinkWriter[*row.Row], error) {
	return &releasingWriter{write: f}, nil
}

type releasingWriter struct {
	write releasingSink
	dead  row.Releaser
}

func (w *releasingWriter) Write(b []engine.Record[*row.Row]) error {
	for i := range b {
		if err := w.write(b[i].Value); err != nil {
			return err
		}
		w.dead.Add(b[i].Value)
	}
	return nil
}

func (w *releasingWriter) Close() error { return nil }
