package sqlbench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/state"
)

// The changelog cases: a regular join and a continuous Top-N, whose SQL
// operators keep keyed state on every input row (the join) or the top
// rows of each key (the Top-N), beside hand-written Go jobs doing the same
// with the engine's keyed API. Their results are compared as changelogs:
// the print form of each row ("+I[1, 2]", "-U[..]", "+U[..]", "-D[..]").
const (
	// JoinKeys is the number of keys of the join (the dimension table's
	// rows) and of the Top-N (partitions).
	JoinKeys = 1000
	// TopN is the number of rows the Top-N keeps per partition.
	TopN = 3
)

// Change is one changelog row: its kind as printed (+I, -U, +U, -D) and
// its integer columns.
type Change struct {
	Kind string
	Cols []int64
}

// String is the print sink's form of c.
func (c Change) String() string {
	var b strings.Builder
	b.WriteString(c.Kind)
	b.WriteByte('[')
	for i, v := range c.Cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(v, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// ChangeCase is one case whose result is a changelog, as SQL and as the
// hand-written Go API job.
type ChangeCase struct {
	Name string
	// Records is the number of rows the case reads for n generated rows.
	Records func(n int64) int64
	// SQL is the script over n rows into a sink of the given connector.
	SQL func(n int64, sink string) string
	// Go runs the Go job over n rows, handing each output row to sink
	// (from the sink's goroutine; parallelism 1); a nil sink discards the
	// rows without converting them.
	Go func(ctx context.Context, n int64, sink func(Change) error) error
	// Final is the result table (as +I rows) computed by a plain loop, to
	// check both jobs against.
	Final func(n int64) []Change
}

// ChangeCases are the regular join and the Top-N.
var ChangeCases = []ChangeCase{
	{
		Name:    "sql/regular-join",
		Records: func(n int64) int64 { return n + JoinKeys },
		SQL:     joinSQL,
		Go:      goJoin,
		Final: func(n int64) []Change {
			var out []Change
			for i := range n {
				k := i % JoinKeys
				out = append(out, Change{"+I", []int64{i, k, dimW(k)}})
			}
			return out
		},
	},
	{
		Name:    "sql/top-n",
		Records: func(n int64) int64 { return n },
		SQL:     topNSQL,
		Go:      goTopN,
		Final:   topNFinal,
	},
}

// joinSQL joins a fact table a (id, k = id % JoinKeys) with a dimension
// table b of one row per key (k, w = k * 7 + 1) on k.
func joinSQL(n int64, sink string) string {
	return fmt.Sprintf(`CREATE TABLE a (id BIGINT, k AS id %% %[3]d) WITH (
  'connector' = 'datagen', 'number-of-rows' = '%[1]d', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%[2]d');
CREATE TABLE b (k INT, w AS k * 7 + 1) WITH (
  'connector' = 'datagen', 'number-of-rows' = '%[3]d', 'rows-per-second' = '0',
  'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '%[4]d');
CREATE TABLE snk (id BIGINT, k INT, w INT) WITH ('connector' = '%[5]s');
INSERT INTO snk SELECT a.id, a.k, b.w FROM a JOIN b ON a.k = b.k;
`, n, n-1, JoinKeys, JoinKeys-1, sink)
}

func dimW(k int64) int64 { return k*7 + 1 }

type fact struct{ ID, K int64 }
type dim struct{ K, W int64 }
type joined struct{ ID, K, W int64 }

// joinFunc is the Go regular join: each side's rows in keyed list state;
// a row joins with the other side's rows of its key, then is added to
// its side's list.
type joinFunc struct {
	facts *state.ListState[fact]
	dims  *state.ListState[dim]
}

func (f *joinFunc) Open(rc *engine.RuntimeContext) error {
	b, err := rc.KeyedState()
	if err != nil {
		return err
	}
	if f.facts, err = state.NewListState(b, "facts", state.Codec[fact](factCodec)); err != nil {
		return err
	}
	f.dims, err = state.NewListState(b, "dims", state.Codec[dim](dimCodec))
	return err
}

func (f *joinFunc) ProcessElement1(a fact, ctx *engine.KeyedContext[int64, joined]) error {
	ds, err := f.dims.Get()
	if err != nil {
		return err
	}
	for _, d := range ds {
		ctx.Emit(joined{ID: a.ID, K: a.K, W: d.W})
	}
	return f.facts.Add(a)
}

func (f *joinFunc) ProcessElement2(d dim, ctx *engine.KeyedContext[int64, joined]) error {
	fs, err := f.facts.Get()
	if err != nil {
		return err
	}
	for _, a := range fs {
		ctx.Emit(joined{ID: a.ID, K: a.K, W: d.W})
	}
	return f.dims.Add(d)
}

func goJoin(ctx context.Context, n int64, sink func(Change) error) error {
	j := engine.NewJob("sql-bench-go", engine.Config{StateBackend: "memory"})
	a := engine.SourceOf(j, "a", datagen.Source(datagen.Options{Count: n}, func(i int64) fact { return fact{ID: i, K: i % JoinKeys} }), engine.NoWatermarks[fact]())
	b := engine.SourceOf(j, "b", datagen.Source(datagen.Options{Count: JoinKeys}, func(i int64) dim { return dim{K: i, W: dimW(i)} }), engine.NoWatermarks[dim]())
	out := engine.KeyedCoProcess(engine.KeyBy(a, func(f fact) int64 { return f.K }), engine.KeyBy(b, func(d dim) int64 { return d.K }), "join", &joinFunc{})
	engine.ForEach(out, "snk", func(r joined) error {
		if sink == nil {
			return nil
		}
		return sink(Change{"+I", []int64{r.ID, r.K, r.W}})
	})
	return j.Execute(ctx)
}

// topNSQL keeps the top TopN rows by v of each key k = id % JoinKeys,
// v = id * 7919 % 100003 (a permutation of the ids within a key), with
// their row number.
func topNSQL(n int64, sink string) string {
	return fmt.Sprintf(`CREATE TABLE src (id BIGINT, k AS id %% %[3]d, v AS id * 7919 %% 100003) WITH (
  'connector' = 'datagen', 'number-of-rows' = '%[1]d', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%[2]d');
CREATE TABLE snk (k INT, v INT, id BIGINT, rn BIGINT) WITH ('connector' = '%[5]s');
INSERT INTO snk SELECT k, v, id, rn FROM (
  SELECT k, v, id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM src)
WHERE rn <= %[4]d;
`, n, n-1, JoinKeys, TopN, sink)
}

type ranked struct{ K, V, ID int64 }

func rankedOf(i int64) ranked { return ranked{K: i % JoinKeys, V: i * 7919 % 100003, ID: i} }

// rankChange is one output row of the Go Top-N.
type rankChange struct {
	kind string
	r    ranked
	rn   int64
}

// topNFunc is the Go Top-N: the top TopN rows of the key, best first, in
// keyed list state. A row that enters moves the rows below it down: each
// moved rank is retracted and re-emitted (-U, +U) and a rank that was
// empty is inserted (+I), the changelog of Flink's AppendOnlyTopN.
type topNFunc struct {
	rows *state.ListState[ranked]
	next []ranked
}

func (f *topNFunc) Open(rc *engine.RuntimeContext) error {
	b, err := rc.KeyedState()
	if err != nil {
		return err
	}
	f.rows, err = state.NewListState(b, "top", state.Codec[ranked](rankCodec))
	return err
}

func (f *topNFunc) ProcessElement(r ranked, ctx *engine.KeyedContext[int64, rankChange]) error {
	cur, err := f.rows.Get()
	if err != nil {
		return err
	}
	pos := len(cur)
	for pos > 0 && r.V > cur[pos-1].V {
		pos--
	}
	if pos >= TopN {
		return nil
	}
	f.next = slices.Insert(append(f.next[:0], cur...), pos, r)
	for j := pos; j < len(cur); j++ {
		ctx.Emit(rankChange{"-U", cur[j], int64(j + 1)})
		ctx.Emit(rankChange{"+U", f.next[j], int64(j + 1)})
	}
	if len(cur) < TopN {
		ctx.Emit(rankChange{"+I", f.next[len(cur)], int64(len(cur) + 1)})
	}
	return f.rows.Update(f.next[:min(len(f.next), TopN)])
}

func goTopN(ctx context.Context, n int64, sink func(Change) error) error {
	j := engine.NewJob("sql-bench-go", engine.Config{StateBackend: "memory"})
	s := engine.SourceOf(j, "src", datagen.Source(datagen.Options{Count: n}, rankedOf), engine.NoWatermarks[ranked]())
	out := engine.KeyedProcess(engine.KeyBy(s, func(r ranked) int64 { return r.K }), "top-n", &topNFunc{})
	engine.ForEach(out, "snk", func(c rankChange) error {
		if sink == nil {
			return nil
		}
		return sink(Change{c.kind, []int64{c.r.K, c.r.V, c.r.ID, c.rn}})
	})
	return j.Execute(ctx)
}

// topNFinal is the Top-N's final table by sorting each key's rows (ties
// keep the earlier id first, as the operators do).
func topNFinal(n int64) []Change {
	byKey := map[int64][]ranked{}
	for i := range n {
		r := rankedOf(i)
		byKey[r.K] = append(byKey[r.K], r)
	}
	var out []Change
	for _, rs := range byKey {
		slices.SortStableFunc(rs, func(a, b ranked) int { return int(b.V - a.V) })
		for j, r := range rs[:min(len(rs), TopN)] {
			out = append(out, Change{"+I", []int64{r.K, r.V, r.ID, int64(j + 1)}})
		}
	}
	return out
}

// Apply is the table a changelog leaves: +I and +U add a row, -U and -D
// take one back. It fails on a retraction of a row that is not there.
func Apply(changes []Change) ([]Change, error) {
	count := map[string]int{}
	for _, c := range changes {
		k := Change{"+I", c.Cols}.String()
		switch c.Kind {
		case "+I", "+U":
			count[k]++
		case "-U", "-D":
			if count[k] == 0 {
				return nil, fmt.Errorf("sqlbench: %v retracts a row that is not in the table", c)
			}
			count[k]--
		default:
			return nil, fmt.Errorf("sqlbench: change kind %q", c.Kind)
		}
	}
	var out []Change
	for _, c := range changes {
		k := Change{"+I", c.Cols}.String()
		for ; count[k] > 0; count[k]-- {
			out = append(out, Change{"+I", c.Cols})
		}
	}
	return out, nil
}

// Sorted is the print forms of changes, sorted: a changelog as a multiset.
func Sorted(changes []Change) []string {
	s := make([]string, len(changes))
	for i, c := range changes {
		s[i] = c.String()
	}
	slices.Sort(s)
	return s
}

// SQLChanges runs a case's SQL into a print sink and parses its rows.
func SQLChanges(ctx context.Context, c ChangeCase, n int64) ([]Change, error) {
	var mu sync.Mutex
	var out []Change
	w := writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		ch, err := parseChange(strings.TrimSpace(string(b)))
		if err != nil {
			return 0, err
		}
		out = append(out, ch)
		return len(b), nil
	})
	err := runSQL(ctx, c.SQL(n, "print"), planner.RunOptions{Stdout: w})
	return out, err
}

// GoChanges runs a case's Go job and collects its rows.
func GoChanges(ctx context.Context, c ChangeCase, n int64) ([]Change, error) {
	var out []Change
	err := c.Go(ctx, n, func(ch Change) error {
		out = append(out, ch)
		return nil
	})
	return out, err
}

// parseChange reads a print line of integer columns, "-U[3, 4]".
func parseChange(line string) (Change, error) {
	if len(line) < 4 || line[2] != '[' || !strings.HasSuffix(line, "]") {
		return Change{}, fmt.Errorf("sqlbench: unexpected print line %q", line)
	}
	c := Change{Kind: line[:2]}
	for _, f := range strings.Split(line[3:len(line)-1], ", ") {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return Change{}, fmt.Errorf("sqlbench: print line %q: %w", line, err)
		}
		c.Cols = append(c.Cols, v)
	}
	return c, nil
}

// varints is the state codec of a struct of up to three int64 fields,
// as varints.
type varints[T any] struct {
	n    int
	to   func(T, *[3]int64)
	from func(*[3]int64) T
}

func (c varints[T]) Append(dst []byte, v T) []byte {
	var xs [3]int64
	c.to(v, &xs)
	for _, x := range xs[:c.n] {
		dst = binary.AppendVarint(dst, x)
	}
	return dst
}

func (c varints[T]) Decode(src []byte) (T, error) {
	var xs [3]int64
	for i := range c.n {
		x, k := binary.Varint(src)
		if k <= 0 {
			var zero T
			return zero, errors.New("sqlbench: corrupt state value")
		}
		xs[i], src = x, src[k:]
	}
	return c.from(&xs), nil
}

var (
	factCodec = varints[fact]{2, func(f fact, xs *[3]int64) { xs[0], xs[1] = f.ID, f.K }, func(xs *[3]int64) fact { return fact{ID: xs[0], K: xs[1]} }}
	dimCodec  = varints[dim]{2, func(d dim, xs *[3]int64) { xs[0], xs[1] = d.K, d.W }, func(xs *[3]int64) dim { return dim{K: xs[0], W: xs[1]} }}
	rankCodec = varints[ranked]{3, func(r ranked, xs *[3]int64) { xs[0], xs[1], xs[2] = r.K, r.V, r.ID }, func(xs *[3]int64) ranked { return ranked{K: xs[0], V: xs[1], ID: xs[2]} }}
)
