package operators

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// TestReduceFunctions runs Reduce and ReduceProcess in a job, on slices
// (tumbling) and on the general operator (with an evictor).
func TestReduceFunctions(t *testing.T) {
	in := []click{{"a", 1, 5}, {"a", 2, 9}, {"b", 3, 4}, {"a", 4, 2}, {"a", 12, 7}}
	j := engine.NewJob("reduce", engine.Config{StateBackend: "memory"})
	src := engine.FromSlice(j, "src", in, engine.Monotonous(func(c click) int64 { return c.TS }))
	ks := engine.KeyBy(src, func(c click) string { return c.User })
	maxVal := func(x, y click) click {
		if y.Val > x.Val {
			return y
		}
		return x
	}
	plain := engine.Collect(Reduce(Window(ks, "max", Tumbling(10*time.Millisecond)).ElementCodec(clickCodec), maxVal), "plain")
	proc := engine.Collect(ReduceProcess(
		Window(ks, "max-last-2", Tumbling(10*time.Millisecond)).ElementCodec(clickCodec).Evictor(CountEvictor[click](2, false)),
		maxVal, ProcessWindowFunc[string, click, string](func(key string, cs []click, ctx *WindowContext[string]) error {
			ctx.Emit(fmt.Sprintf("%s %v max %d", key, ctx.Window(), cs[0].Val))
			return nil
		})), "proc")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range plain.Records() {
		got = append(got, fmt.Sprintf("%s %d @%d", r.Value.User, r.Value.Val, r.Time))
	}
	slices.Sort(got)
	if want := []string{"a 7 @19", "a 9 @9", "b 4 @9"}; !slices.Equal(got, want) {
		t.Fatalf("Reduce: %q, want %q", got, want)
	}
	got = proc.Values()
	slices.Sort(got)
	// The evictor keeps the last two records: a's first window has 9 and 2.
	if want := []string{"a [0,10) max 9", "a [10,20) max 7", "b [0,10) max 4"}; !slices.Equal(got, want) {
		t.Fatalf("ReduceProcess: %q, want %q", got, want)
	}
}

func recs(ts ...int64) []engine.Record[click] {
	var rs []engine.Record[click]
	for i, t := range ts {
		rs = append(rs, engine.Record[click]{Value: click{Val: int64(i)}, Time: t})
	}
	return rs
}

func vals(rs []engine.Record[click]) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.Value.Val)
	}
	return out
}

func TestEvictors(t *testing.T) {
	w, ctx := TimeWindow{0, 100}, EvictorContext{}
	cases := []struct {
		name   string
		ev     Evictor[click]
		in     []engine.Record[click]
		before []int64
		after  []int64
	}{
		{"count", CountEvictor[click](2, false), recs(1, 2, 3), []int64{1, 2}, []int64{1, 2}},
		{"count-after", CountEvictor[click](2, true), recs(1, 2, 3), []int64{0, 1, 2}, []int64{1, 2}},
		{"count-short", CountEvictor[click](5, false), recs(1, 2), []int64{0, 1}, []int64{0, 1}},
		// Newest 50: records at or before 50-20=30 go.
		{"time", TimeEvictor[click](20*time.Millisecond, false), recs(10, 50, 30, 31), []int64{1, 3}, []int64{1, 3}},
		// Values 0,1,2,3; the last is 3; delta |v-3| >= 2 goes.
		{"delta", DeltaEvictor[click](2, func(a, b click) float64 { return math.Abs(float64(a.Val - b.Val)) }, false),
			recs(1, 2, 3, 4), []int64{2, 3}, []int64{2, 3}},
	}
	for _, c := range cases {
		b := c.ev.EvictBefore(slices.Clone(c.in), w, ctx)
		if !slices.Equal(vals(b), c.before) {
			t.Errorf("%s: before %v, want %v", c.name, vals(b), c.before)
		}
		a := c.ev.EvictAfter(b, w, ctx)
		if !slices.Equal(vals(a), c.after) {
			t.Errorf("%s: after %v, want %v", c.name, vals(a), c.after)
		}
	}
}

// TestCodecs round-trips the state encodings and rejects corrupt input.
func TestCodecs(t *testing.T) {
	rc := recordsCodec[click]{clickCodec}
	long := click{User: string(make([]byte, 300)), TS: 5, Val: -7} // a value longer than 127 bytes
	rs := []engine.Record[click]{{Value: click{"a", 1, 2}, Time: -3}, {Value: long, Time: 1 << 40}}
	b := rc.Append([]byte{9}, rs)
	got, err := rc.Decode(b[1:])
	if err != nil || !slices.Equal(got, rs) {
		t.Fatalf("records: %v %v", got, err)
	}
	if _, err := rc.Decode(b[1 : len(b)-1]); err == nil {
		t.Fatal("records: truncated input decoded")
	}
	sc := sliceSetCodec[int64]{rcInt}
	set := sliceSet[int64]{slots: []slot[int64]{{end: 10, acc: 3}, {end: 20, acc: -1}}, fires: []int64{9, 19}}
	sb := sc.Append(nil, set)
	s2, err := sc.Decode(sb)
	if err != nil || !slices.Equal(s2.slots, set.slots) || !slices.Equal(s2.fires, set.fires) {
		t.Fatalf("slice set: %+v %v", s2, err)
	}
	if _, err := sc.Decode(append([]byte{2}, sb[1:]...)); err == nil {
		t.Fatal("slice set: unknown version decoded")
	}
	ssc := sessionSetCodec[int64]{rcInt}
	ss := sessionSet[int64]{sessions: []session[int64]{{w: TimeWindow{1, 5}, acc: 2, fired: true}}, fires: []int64{4}}
	ss2, err := ssc.Decode(ssc.Append(nil, ss))
	if err != nil || !slices.Equal(ss2.sessions, ss.sessions) || !slices.Equal(ss2.fires, ss.fires) {
		t.Fatalf("session set: %+v %v", ss2, err)
	}
	mw := []mergedWindow{{TimeWindow{1, 2}, TimeWindow{0, 2}}}
	mw2, err := mergedWindowsCodec{}.Decode(mergedWindowsCodec{}.Append(nil, mw))
	if err != nil || !slices.Equal(mw, mw2) {
		t.Fatalf("merging set: %v %v", mw2, err)
	}
	var ws watermarkState
	ws.open(4, func() int64 { return 77 })
	ws.restored = engine.MinTime
	entries, _ := ws.SnapshotState(1)
	var r watermarkState
	if err := r.InitializeState(append(entries, []byte{1, 0, 0, 0, 0, 0, 0, 0, 5})); err != nil || r.restored != 5 {
		t.Fatalf("watermark state: %d %v (the smallest restored watermark wins)", r.restored, err)
	}
	if err := r.InitializeState([][]byte{{2, 0}}); err == nil {
		t.Fatal("watermark state: bad entry accepted")
	}
}
