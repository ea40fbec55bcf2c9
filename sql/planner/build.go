package planner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/operators"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
	"github.com/sluicehq/sluice/state"
)

// op names a source or sink operator: "name", or "name#k+1" when an
// earlier operator of the job took the name (relPlanner.unique), so that
// uids stay distinct.
func (ip *insertPlan) op(base string) string {
	if ip.seq == 0 {
		return base
	}
	return fmt.Sprintf("%s#%d", base, ip.seq+1)
}

func (ip *insertPlan) build(l *lowering, o RunOptions) error {
	l.c = ip.c
	s, err := l.lower(ip.root)
	if err != nil {
		return err
	}
	ip.sinkOwns = ip.sinkCast != nil || l.consumers[ip.root] == 1
	if ip.sinkCast != nil {
		s = engine.Process[*row.Row, *row.Row](s, ip.castName, &rowProcess{newFn: ip.sinkCast, owns: l.consumers[ip.root] == 1})
	}
	return ip.buildSink(s, o)
}

// buildSource is the table's source: a filesystem table's (table_fs.go),
// a shardlog table's (table_log.go), else the datagen source, whose row i
// is a function of i.
func (ip *insertPlan) buildSource(j *engine.Job, o RunOptions) (*engine.Stream[*row.Row], error) {
	t := ip.src.table
	switch t.Factory.Name() {
	case "filesystem":
		return ip.buildFilesystemSource(j, o)
	case "shardlog":
		return ip.buildLogSource(j, o)
	case "upsert-shardlog":
		return ip.buildUpsertLogSource(j, o)
	case "kafka":
		return ip.buildKafkaSource(j, o)
	case "upsert-kafka":
		return ip.buildUpsertKafkaSource(j, o)
	case "nexmark":
		return ip.buildNexmarkSource(j)
	}
	if t.Factory.Name() == "kinesis" {
		return ip.buildKinesisSource(j, o)
	}
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
	// Rows come from a recycler: the calc, cast or sink that is a row's
	// last holder releases it for reuse (rowProcess.owns, writeRows); a
	// row that ends in a window's input is never released and so never
	// reused.
	rec := layout.NewRecycler()
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
	ws := sourceWatermarks(ip, func(r *row.Row) *row.Row { return r })
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
	case t.IsCharString() || t.IsBinaryString():
		length := min(int(num("length", 100)), t.Precision)
		if t.Kind == types.Binary {
			length = t.Precision // BINARY(n) is always n bytes
		}
		fill := func(i int64, b []byte) { // hex digits
			for k := range b {
				b[k] = "0123456789abcdef"[mix(i*int64(length+1)+int64(k), f)&15]
			}
		}
		if t.IsBinaryString() {
			fill = func(i int64, b []byte) { // random bytes, eight per mix
				for k := 0; k < len(b); k += 8 {
					u := mix(i*int64(length+1)+int64(k), f)
					for j := k; j < min(k+8, len(b)); j++ {
						b[j] = byte(u)
						u >>= 8
					}
				}
			}
		}
		return func(i int64, r *row.Row) {
			if isNull(i) {
				r.SetNull(dst)
				return
			}
			b := make([]byte, length)
			fill(i, b)
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
// subtasks, so the per-row evaluation comes from a pool (or, with
// windowPlan.direct, needs none).
//
// release says the aggregator is the last holder of its input rows
// (buildWindow): each row is released for reuse once folded in.
type rowAggregator struct {
	aggs    []*aggSpec
	input   *pooled[*aggWorker]
	direct  func(*row.Row, []functions.Accumulator)
	release bool
}

// aggWorker is one goroutine's evaluation of the aggregates' input and
// its rows to release.
type aggWorker struct {
	in   func(*row.Row, []functions.Accumulator) error
	dead row.Releaser
}

func newRowAggregator(wp *windowPlan) *rowAggregator {
	a := &rowAggregator{aggs: wp.aggs, direct: wp.direct}
	a.input = newPooled(func() (*aggWorker, error) {
		w := &aggWorker{}
		if a.direct != nil {
			return w, nil
		}
		f, err := wp.newAggInput()
		w.in = f
		return w, err
	})
	return a
}

func (a *rowAggregator) CreateAccumulator() accs {
	as := make(accs, len(a.aggs))
	for i, s := range a.aggs {
		as[i] = s.agg.New()
	}
	return as
}

func (a *rowAggregator) Add(in *row.Row, acc accs) accs {
	if a.direct != nil && !a.release {
		a.direct(in, acc)
		return acc
	}
	w := a.input.get()
	var err error
	if a.direct != nil {
		a.direct(in, acc)
	} else {
		err = w.in(in, acc)
	}
	if err == nil && a.release {
		w.dead.Add(in)
	}
	a.input.put(w)
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

// buildWindow is the window operator over s, whose rows have layout in.
// owns says the window is the only consumer of s (lowering.consumers),
// so that an input row may be released once it is folded in.
func buildWindow(s *engine.Stream[*row.Row], wp *windowPlan, in *row.Layout, name string, owns bool) *engine.Stream[*row.Row] {
	enc := row.NewKeyEncoder(in, wp.keys)
	if enc.Fixed() {
		// Integer, date and timestamp keys: a comparable value per row in
		// place of a string, with the same state bytes and key groups.
		return windowOver(s, wp, name, owns, enc.FixedKey, fixedKeyCodec{enc}, func(k row.FixedKey, kr *row.Row) error {
			enc.SetFixed(k, kr)
			return nil
		})
	}
	return windowOver(s, wp, name, owns, enc.Key, state.MustCodecFor[string](), func(k string, kr *row.Row) error {
		_, err := enc.Decode([]byte(k), kr)
		return err
	})
}

// fixedKeyCodec is the state codec of a window's FixedKey: the bytes of
// the string key the encoder makes of the same row (row.KeyEncoder).
type fixedKeyCodec struct{ enc *row.KeyEncoder }

func (c fixedKeyCodec) Append(dst []byte, k row.FixedKey) []byte { return c.enc.AppendFixed(dst, k) }

func (c fixedKeyCodec) Decode(src []byte) (row.FixedKey, error) {
	k, err := c.enc.DecodeFixed(src)
	if err != nil {
		return k, fmt.Errorf("planner: window key: %w", err)
	}
	return k, nil
}

func windowOver[K comparable](s *engine.Stream[*row.Row], wp *windowPlan, name string, owns bool,
	keyOf func(*row.Row) K, codec state.Codec[K], decodeKey func(K, *row.Row) error) *engine.Stream[*row.Row] {
	ks := engine.KeyByCodec(s, keyOf, codec)
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
	agg := newRowAggregator(wp)
	// Tumbling, sliding and cumulating windows fold each row into one
	// slice's accumulators and never look at it again (operators'
	// sliceOp), so the row's last holder is the aggregator; a session
	// window's operator may fold a row in more than once.
	agg.release = owns && wp.kind != "SESSION"
	w := operators.Window(ks, name, assigner)
	out := wp.out
	keyL := wp.keyLayout
	return operators.AggregateProcess(w, state.Aggregator[*row.Row, accs, accs](agg), operators.ProcessWindowFunc[K, accs, *row.Row](
		func(key K, results []accs, ctx *operators.WindowContext[*row.Row]) error {
			kr := keyL.New()
			if err := decodeKey(key, kr); err != nil {
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
	if o.StreamTo != nil && o.StreamTo(t.Name, s) {
		return nil
	}
	if o.SinkTo != nil {
		if sink := o.SinkTo(t.Name); sink != nil {
			// A copy of each row: the sink may keep it, and the operators
			// before it recycle theirs.
			c := engine.Map(s, ip.op(t.Name)+"-copy", func(r *row.Row) *row.Row { return r.Clone() })
			engine.SinkTo(c, ip.op(t.Name), sink)
			return nil
		}
	}
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
		ip.writeRows(s, ip.op(t.Name), func(r *row.Row) error {
			line := append([]byte(prefix), r.AppendJava(nil)...)
			line = append(line, '\n')
			_, err := w.Write(line) // a lockedWriter (Program.Build)
			return err
		})
	case "blackhole":
		ip.writeRows(s, ip.op(t.Name), func(*row.Row) error { return nil })
	case "shardlog":
		return ip.buildLogSink(s, o)
	case "upsert-shardlog":
		return ip.buildUpsertLogSink(s, o)
	case "kinesis":
		return ip.buildKinesisSink(s, o)
	case "kafka", "upsert-kafka":
		return ip.buildKafkaSink(s, o)
	case "filesystem":
		return ip.buildFilesystemSink(s)
	case "firehose":
		return ip.buildFirehoseSink(s)
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
	name  string // the operator's, for its error output (embed.go)
}

func (p *rowProcess) Open(rc *engine.RuntimeContext) error {
	f, err := p.newFn()
	p.f = f
	p.name = rc.Name
	return err
}

func (p *rowProcess) ProcessElement(in *row.Row, ctx *engine.Context[*row.Row]) error {
	out, keep, err := p.f(in)
	if err != nil {
		if p.reject(in, ctx, err) {
			return nil
		}
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

// writeRows is a sink calling write for each row, releasing the rows after
// writing where the sink is their last holder (ip.sinkOwns).
func (ip *insertPlan) writeRows(s *engine.Stream[*row.Row], name string, write func(*row.Row) error) {
	if ip.sinkOwns {
		engine.SinkTo(s, name, releasingSink(write))
		return
	}
	engine.ForEach(s, name, write)
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
