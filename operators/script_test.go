package operators

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/sluicehq/sluice/engine"
)

// The testdata scripts specify the operators of this package: records,
// watermarks and processing time go in, firings, late records and errors
// come out. Each script runs in several modes that must all print the
// same:
//
//   - plain: "snapshot" does nothing;
//   - restore: "snapshot" snapshots the operator, closes it, and opens a
//     new one restored from the snapshot (memory state backend);
//   - restore-pebble: the same on the Pebble state backend;
//   - restore-always: every command runs on an operator restored from a
//     snapshot taken just before it.
//
// So every script also checks that a restore at any point yields exactly
// the output of an uninterrupted run.
//
// Commands:
//
//	new <operator> key=value...   the operator under test (see newTestOp)
//	element                       one record per line: [L|R] key ts [value]
//	watermark <ts|max>
//	proctime <ms>
//	snapshot
//	end                           end of input
//
// Output lines: "out <value> @<ts>", "late <record> @<ts>", "error
// <record> @<ts>" in the order emitted per kind.

type scriptMode struct {
	name    string
	restore bool
	always  bool
	pebble  bool
	cache   int // state cache entries; 0: the default
}

var scriptModes = []scriptMode{
	{name: "plain"},
	{name: "restore", restore: true},
	{name: "restore-pebble", restore: true, pebble: true},
	{name: "restore-always", restore: true, always: true},
}

func rewriting() bool {
	f := flag.Lookup("rewrite")
	return f != nil && f.Value.String() == "true"
}

func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		for _, m := range scriptModes {
			if rewriting() && m.name != "plain" {
				continue
			}
			t.Run(m.name, func(t *testing.T) { runScript(t, path, m) })
		}
	})
}

// scriptHarness drives one operator through its restores.
type scriptHarness struct {
	t       *testing.T
	mode    scriptMode
	factory func() (engine.KeyedOperator[ev, string, string], error)
	h       *engine.Harness[ev, string]
	clock   int64
	snaps   int
	dir     string
}

func (s *scriptHarness) open(restoreFrom string) error {
	op, err := s.factory()
	if err != nil {
		return err
	}
	backend := "memory"
	if s.mode.pebble {
		backend = "pebble"
	}
	h, err := engine.NewKeyedHarness[ev, string, string](op, engine.HarnessOptions{StateBackend: backend, RestoreFrom: restoreFrom, StateCacheEntries: s.mode.cache})
	if err != nil {
		return err
	}
	if s.clock != 0 {
		if err := h.SetProcessingTime(s.clock); err != nil {
			return err
		}
		h.ClearOutput()
	}
	s.h = h
	return nil
}

// restore snapshots the operator and replaces it with one restored from
// the snapshot.
func (s *scriptHarness) restore() error {
	s.snaps++
	dir := filepath.Join(s.dir, fmt.Sprint("snap-", s.snaps))
	if err := s.h.Snapshot(dir); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := s.h.Close(); err != nil {
		return err
	}
	s.h = nil
	return s.open(dir)
}

func (s *scriptHarness) close() {
	if s.h != nil {
		s.h.Close()
		s.h = nil
	}
}

func runScript(t *testing.T, path string, m scriptMode) {
	s := &scriptHarness{t: t, mode: m, dir: t.TempDir()}
	defer s.close()
	datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd == "new" {
			s.close()
			s.clock = 0
			f, err := newTestOp(d)
			if err != nil {
				return "error: " + err.Error()
			}
			s.factory = f
			if err := s.open(""); err != nil {
				return "error: " + err.Error()
			}
			return "ok"
		}
		if s.h == nil {
			d.Fatalf(t, "%s before new", d.Cmd)
		}
		if m.always {
			if err := s.restore(); err != nil {
				d.Fatalf(t, "restore: %v", err)
			}
		}
		var err error
		switch d.Cmd {
		case "element":
			for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
				r, perr := parseElement(line)
				if perr != nil {
					d.Fatalf(t, "%v", perr)
				}
				if err = s.h.ProcessElement(r.Value, r.Time); err != nil {
					break
				}
			}
		case "watermark":
			var ts int64
			ts, err = parseTime(d.CmdArgs[0].Key)
			if err == nil {
				err = s.h.ProcessWatermark(ts)
			}
		case "proctime":
			s.clock, err = strconv.ParseInt(d.CmdArgs[0].Key, 10, 64)
			if err == nil {
				err = s.h.SetProcessingTime(s.clock)
			}
		case "snapshot":
			if m.restore && !m.always {
				err = s.restore()
			}
		case "end":
			err = s.h.EndInput()
		default:
			d.Fatalf(t, "unknown command %s", d.Cmd)
		}
		if err != nil {
			return "error: " + err.Error()
		}
		return s.output()
	})
}

func (s *scriptHarness) output() string {
	var b strings.Builder
	for _, r := range s.h.Output() {
		fmt.Fprintf(&b, "out %s @%s\n", r.Value, fmtTime(r.Time))
	}
	for _, tag := range []string{"late-data", "late-left", "late-right", "errors", "errors-left", "errors-right"} {
		for _, r := range s.h.UntypedSideOutput(tag) {
			fmt.Fprintf(&b, "%s %v @%s\n", tag, r.Value, fmtTime(r.Time))
		}
	}
	s.h.ClearOutput()
	if b.Len() == 0 {
		return "ok"
	}
	return b.String()
}

// parseElement parses "[L|R] key ts [value]".
func parseElement(line string) (engine.Record[ev], error) {
	f := strings.Fields(line)
	var e ev
	if len(f) > 0 && (f[0] == "L" || f[0] == "R") {
		e.Side = f[0][0]
		f = f[1:]
	}
	if len(f) < 2 || len(f) > 3 {
		return engine.Record[ev]{}, fmt.Errorf("bad element %q: want [L|R] key ts [value]", line)
	}
	e.Key = f[0]
	ts, err := parseTime(f[1])
	if err != nil {
		return engine.Record[ev]{}, fmt.Errorf("bad element %q: %v", line, err)
	}
	if len(f) == 3 {
		if e.Val, err = strconv.ParseInt(f[2], 10, 64); err != nil {
			return engine.Record[ev]{}, fmt.Errorf("bad element %q: %v", line, err)
		}
	}
	return engine.Record[ev]{Value: e, Time: ts}, nil
}

// args reads a command's key=value arguments.
type args map[string]string

func argsOf(d *datadriven.TestData) args {
	a := args{}
	for _, c := range d.CmdArgs[1:] {
		a[c.Key] = strings.Join(c.Vals, ",")
	}
	return a
}

func (a args) ms(key string) time.Duration {
	v, err := strconv.ParseInt(a[key], 10, 64)
	if err != nil {
		return 0
	}
	return time.Duration(v) * time.Millisecond
}

func (a args) int(key string) int64 {
	v, _ := strconv.ParseInt(a[key], 10, 64)
	return v
}

// split parses "name:n" into name and n.
func split(s string) (string, int64) {
	name, n, _ := strings.Cut(s, ":")
	v, _ := strconv.ParseInt(n, 10, 64)
	return name, v
}

// newTestOp builds the operator that "new" names. Window operators:
//
//	new window assigner=tumbling size=10 [offset=..] [proc]
//	           assigner=sliding size=10 slide=5 | session gap=5 |
//	           dynsession (gap = the record's value) | cumulate step=2 max=6 | global
//	           [lateness=ms] [trigger=event|proc|never|count:N|purging-count:N|
//	           continuous-event:N|continuous-proc:N]
//	           [evictor=count:N|count-after:N|time:N]
//	           fn=count|sum|max|list|topn:N|first|last
func newTestOp(d *datadriven.TestData) (func() (engine.KeyedOperator[ev, string, string], error), error) {
	if len(d.CmdArgs) == 0 {
		return nil, fmt.Errorf("new needs an operator")
	}
	a := argsOf(d)
	switch kind := d.CmdArgs[0].Key; kind {
	case "window":
		return newTestWindowOp(a)
	default:
		return newTestOtherOp(kind, a)
	}
}

func testAssigner(a args) Assigner {
	var as Assigner
	switch a["assigner"] {
	case "tumbling":
		as = Tumbling(a.ms("size"))
	case "sliding":
		as = Sliding(a.ms("size"), a.ms("slide"))
	case "session":
		as = Session(a.ms("gap"))
	case "dynsession":
		as = DynamicSession(func(e ev) time.Duration { return time.Duration(e.Val) * time.Millisecond })
	case "cumulate":
		as = Cumulate(a.ms("step"), a.ms("max"))
	case "global":
		as = Global()
	}
	if _, ok := a["offset"]; ok {
		as = as.WithOffset(a.ms("offset"))
	}
	if _, ok := a["proc"]; ok {
		as = as.InProcessingTime()
	}
	return as
}

func testTrigger(s string) Trigger[ev] {
	name, n := split(s)
	switch name {
	case "event":
		return EventTimeTrigger[ev]()
	case "proc":
		return ProcessingTimeTrigger[ev]()
	case "never":
		return NeverTrigger[ev]()
	case "count":
		return CountTrigger[ev](n)
	case "purging-count":
		return PurgingTrigger(CountTrigger[ev](n))
	case "continuous-event":
		return ContinuousEventTimeTrigger[ev](time.Duration(n) * time.Millisecond)
	case "continuous-proc":
		return ContinuousProcessingTimeTrigger[ev](time.Duration(n) * time.Millisecond)
	}
	return nil
}

func testEvictor(s string) Evictor[ev] {
	name, n := split(s)
	switch name {
	case "count":
		return CountEvictor[ev](int(n), false)
	case "count-after":
		return CountEvictor[ev](int(n), true)
	case "time":
		return TimeEvictor[ev](time.Duration(n)*time.Millisecond, false)
	}
	return nil
}

// testWindowed returns the windowed stream that args describe.
func testWindowed(a args) *WindowedStream[ev, string] {
	w := Window(testKeyed(), "operator", testAssigner(a)).ElementCodec(evCodec)
	if t, ok := a["trigger"]; ok {
		w.Trigger(testTrigger(t))
	}
	if e, ok := a["evictor"]; ok {
		w.Evictor(testEvictor(e))
	}
	if _, ok := a["lateness"]; ok {
		w.AllowedLateness(a.ms("lateness"))
	}
	return w
}

func fmtResult[R any](key string, r R, wc *WindowContext[string]) error {
	wc.Emit(fmt.Sprintf("%s %s %v", key, fmtWindow(wc.Window()), r))
	return nil
}

func newTestWindowOp(a args) (func() (engine.KeyedOperator[ev, string, string], error), error) {
	w := testWindowed(a)
	var spec opSpec[ev, string, string]
	fmtFn := func() resultFunc[string, int64, string] { return fmtResult[int64] }
	switch fn, n := split(a["fn"]); fn {
	case "count":
		spec = aggregateOp(w, Count[ev](), fmtFn)
	case "sum":
		spec = aggregateOp(w, Sum(func(e ev) int64 { return e.Val }), fmtFn)
	case "max":
		spec = reduceOp(w, func(x, y ev) ev {
			if y.Val > x.Val {
				return y
			}
			return x
		}, func() resultFunc[string, ev, string] { return fmtResult[ev] })
	case "list":
		spec = processOp(w, ProcessWindowFunction[string, ev, string](ProcessWindowFunc[string, ev, string](func(key string, es []ev, wc *WindowContext[string]) error {
			vals := make([]string, len(es))
			for i, e := range es {
				vals[i] = strconv.FormatInt(e.Val, 10)
			}
			wc.Emit(fmt.Sprintf("%s %s [%s]", key, fmtWindow(wc.Window()), strings.Join(vals, " ")))
			return nil
		})))
	case "topn":
		spec = topNOp(w, int(n), func(x, y ev) bool { return x.Val > y.Val }, func() func(Ranked[string, ev]) string {
			return func(r Ranked[string, ev]) string {
				return fmt.Sprintf("%s %s #%d %d", r.Key, fmtWindow(r.Window), r.Rank, r.Value.Val)
			}
		})
	case "first", "last":
		keep := KeepFirst
		if fn == "last" {
			keep = KeepLast
		}
		spec = dedupWindowOp(w, keep, func() func(key string, w TimeWindow, v ev) string {
			return func(key string, win TimeWindow, v ev) string {
				return fmt.Sprintf("%s %s %d", key, fmtWindow(win), v.Val)
			}
		})
	default:
		return nil, fmt.Errorf("unknown fn %q", a["fn"])
	}
	if err := spec.err(); err != nil {
		return nil, err
	}
	return func() (engine.KeyedOperator[ev, string, string], error) { return spec.newOp(), nil }, nil
}

// sidesOp runs a two-input operator on the test's one input: records with
// Side 'R' go to the second input, the others to the first.
type sidesOp struct {
	inner engine.KeyedTwoInputOperator[ev, ev, string, string]
}

func (s *sidesOp) Open(ctx *engine.OperatorContext[string], keys *engine.Keys[string]) error {
	return s.inner.Open(ctx, keys)
}

func (s *sidesOp) ProcessBatch(b []engine.Record[ev]) error {
	for i := 0; i < len(b); {
		j := i + 1
		for j < len(b) && (b[j].Value.Side == 'R') == (b[i].Value.Side == 'R') {
			j++
		}
		var err error
		if b[i].Value.Side == 'R' {
			err = s.inner.ProcessBatch2(b[i:j])
		} else {
			err = s.inner.ProcessBatch1(b[i:j])
		}
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (s *sidesOp) OnTimer(t engine.TimerFiring) error { return s.inner.OnTimer(t) }
func (s *sidesOp) Close() error                       { return s.inner.Close() }
func (s *sidesOp) InitializeState(r [][]byte) error {
	return s.inner.(engine.OperatorStateHook).InitializeState(r)
}
func (s *sidesOp) SnapshotState(id int64) ([][]byte, error) {
	return s.inner.(engine.OperatorStateHook).SnapshotState(id)
}

// newTestOtherOp builds the join and dedup operators:
//
//	new interval-join lower=-5 upper=5 [lower-exclusive] [upper-exclusive]
//	new window-join <window assigner args> [lateness=ms]
//	new dedup keep=first|last [event] [ttl=ms]
//	new dedup-first [ttl=ms]
func newTestOtherOp(kind string, a args) (func() (engine.KeyedOperator[ev, string, string], error), error) {
	_, hasLE := a["lower-exclusive"]
	_, hasUE := a["upper-exclusive"]
	joinFn := JoinFunc[ev, ev, string](func(l, r ev, ctx *JoinContext[string]) error {
		ctx.Emit(fmt.Sprintf("%s %d+%d (%d,%d)", l.Key, l.Val, r.Val, ctx.LeftTimestamp(), ctx.RightTimestamp()))
		return nil
	})
	var two twoInputSpec[ev, ev, string, string]
	switch kind {
	case "interval-join":
		two = intervalJoinOp(keyOfEv, keyOfEv, "operator", IntervalJoinOptions[ev, ev]{
			Lower: a.ms("lower"), Upper: a.ms("upper"), LowerExclusive: hasLE, UpperExclusive: hasUE,
			LeftCodec: evCodec, RightCodec: evCodec}, joinFn)
	case "window-join":
		two = windowJoinOp(keyOfEv, keyOfEv, "operator", testAssigner(a),
			WindowJoinOptions[ev, ev]{AllowedLateness: a.ms("lateness"), LeftCodec: evCodec, RightCodec: evCodec}, joinFn)
	case "dedup", "dedup-first":
		opts := DedupOptions[ev]{Codec: evCodec, TTL: a.ms("ttl")}
		if a["keep"] == "last" {
			opts.Keep = KeepLast
		}
		_, opts.EventTime = a["event"]
		s := dedupOp(keyOfEv, "operator", opts, func(k ChangeKind, v ev) string { return fmt.Sprintf("%v %v", k, v) })
		if kind == "dedup-first" {
			s.newOp = firstOnly(s.newOp)
		}
		if err := s.err(); err != nil {
			return nil, err
		}
		return func() (engine.KeyedOperator[ev, string, string], error) { return s.newOp(), nil }, nil
	default:
		return nil, fmt.Errorf("unknown operator %q", kind)
	}
	if err := errors.Join(two.errs...); err != nil {
		return nil, err
	}
	return func() (engine.KeyedOperator[ev, string, string], error) {
		return &sidesOp{inner: two.newOp()}, nil
	}, nil
}
