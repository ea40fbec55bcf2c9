package operators

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// risingThenFall is PATTERN (UP{2,} DOWN) over clicks: two or more rising
// values, then a lower one. The output lists the match's values.
func risingThenFall(within time.Duration) MatchSpec[click, string] {
	return MatchSpec[click, string]{
		Pattern: MatchPattern{Vars: []string{"UP", "DOWN"}, Elems: []MatchElem{{Var: 0, Min: 2, Max: -1}, {Var: 1, Min: 1, Max: 1}}, Within: within},
		New: func() (MatchFuncs[click, string], error) {
			prev := func(m *MatchView[click]) (click, click, bool, error) {
				n := m.Len()
				if n < 2 {
					return click{}, click{}, false, nil
				}
				a, _, err := m.Row(n - 2)
				if err != nil {
					return a, a, false, err
				}
				b, _, err := m.Row(n - 1)
				return a, b, true, err
			}
			return MatchFuncs[click, string]{
				Define: []func(m *MatchView[click]) (bool, error){
					func(m *MatchView[click]) (bool, error) {
						a, b, ok, err := prev(m)
						return !ok || b.Val > a.Val, err
					},
					func(m *MatchView[click]) (bool, error) {
						a, b, ok, err := prev(m)
						return ok && b.Val < a.Val, err
					},
				},
				Measure: func(m *MatchView[click]) (string, error) {
					var vs []string
					for i := range m.Len() {
						c, _, err := m.Row(i)
						if err != nil {
							return "", err
						}
						vs = append(vs, fmt.Sprintf("%s%d", m.pattern(i), c.Val))
					}
					c, _, err := m.Row(0)
					return c.User + ":" + strings.Join(vs, " "), err
				},
			}, nil
		},
		Codec: clickCodec,
	}
}

// pattern is the variable name of row i, for the test's output.
func (m *MatchView[T]) pattern(i int) string { return []string{"u", "d"}[m.Var(i)] }

// TestMatchRecognizeOutOfOrder: rows arriving out of order are matched in
// time order, per key; a row behind the watermark is late and counted;
// WITHIN drops a match that would last too long.
func TestMatchRecognizeOutOfOrder(t *testing.T) {
	in := []click{
		{"a", 2_000, 3}, {"a", 1_000, 1}, {"b", 1_500, 5}, {"a", 3_000, 2}, // a: 1 3 2 -> u1 u3 d2
		{"b", 2_500, 6}, {"a", 5_000, 7}, {"a", 4_000, 4}, {"b", 4_500, 7},
		{"a", 9_000, 1}, // watermark 8_000: a's 4, 7 rise, then 1 falls
		{"a", 500, 9},   // late
		{"b", 12_500, 1},
	}
	run := func(within time.Duration) ([]string, map[string]int64) {
		j := engine.NewJob("match", engine.Config{StateBackend: "memory", BatchSize: 1, WatermarkInterval: -1})
		src := engine.FromSlice(j, "src", in, engine.BoundedOutOfOrderness(time.Second, func(c click) int64 { return c.TS }))
		ks := engine.KeyBy(src, func(c click) string { return c.User })
		out := engine.Collect(MatchRecognize(ks, "match", risingThenFall(within)), "out")
		r, err := j.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Wait(); err != nil {
			t.Fatal(err)
		}
		got := out.Values()
		slices.Sort(got)
		for _, om := range r.Metrics().Operators {
			if om.Name == "match" {
				return got, om.Counters
			}
		}
		t.Fatal("no metrics for the match operator")
		return nil, nil
	}
	got, counters := run(0)
	want := []string{"a:u1 u3 d2", "a:u4 u7 d1", "b:u5 u6 u7 d1"}
	if !slices.Equal(got, want) {
		t.Fatalf("matches %q, want %q", got, want)
	}
	if counters[CounterLate] != 1 {
		t.Fatalf("counters %v, want 1 late record", counters)
	}
	// WITHIN 6 s: b's match would span 1.5 s to 12.5 s.
	got, _ = run(6 * time.Second)
	if want := want[:2]; !slices.Equal(got, want) {
		t.Fatalf("WITHIN 6s: matches %q, want %q", got, want)
	}
}

// TestMatchPatternValidate refuses the patterns the operator cannot run.
func TestMatchPatternValidate(t *testing.T) {
	for _, p := range []MatchPattern{
		{},
		{Vars: []string{"A"}, Elems: []MatchElem{{Var: 1, Min: 1, Max: 1}}},
		{Vars: []string{"A"}, Elems: []MatchElem{{Var: 0, Min: 2, Max: 1}}},
		{Vars: []string{"A"}, Elems: []MatchElem{{Var: 0, Min: 0, Max: 0}}},
		{Vars: []string{"A"}, Elems: []MatchElem{{Var: 0, Min: 1, Max: 1}}, Skip: SkipToLast, SkipVar: 3},
		{Vars: []string{"A"}, Elems: []MatchElem{{Var: 0, Min: 1, Max: 1}}, Within: -time.Second},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	ok := MatchPattern{Vars: []string{"A", "B"}, Elems: []MatchElem{{Var: 0, Min: 1, Max: 1}, {Var: 1, Min: 0, Max: -1, Reluctant: true}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestMatchMetaCodec round-trips a key's matcher state.
func TestMatchMetaCodec(t *testing.T) {
	m := matchMeta{nextSeq: 9, nextStart: 4, lowSeq: 3, fed: -5, entries: []matchEntry{
		{start: 3, startTs: 100, elem: 1, count: 2, vars: []byte{0, 1, 1}},
		{start: 5, startTs: 120, elem: 2, final: true, vars: []byte{0, 1}},
	}}
	b := matchMetaCodec{}.Append(nil, m)
	got, err := matchMetaCodec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(m) {
		t.Fatalf("decoded %+v, want %+v", got, m)
	}
	if _, err := (matchMetaCodec{}).Decode(b[:len(b)-1]); err == nil {
		t.Fatal("a truncated state decoded")
	}
}
