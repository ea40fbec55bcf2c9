package sqlbench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/operators"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/state"
)

// The window cases read rows i = 0..n-1 with key i % Keys, value i and
// event time i milliseconds (watermarks at the event time, no lateness),
// so the Go jobs can generate the same events.
const (
	// Keys is the number of distinct keys of the window cases.
	Keys = 100
	// windowSize and hopSlide are the windows of the cases.
	windowSize = 10 * time.Second
	hopSlide   = 2 * time.Second
)

// WindowCase is one windowed aggregation, as SQL and as the hand-written
// Go API job (datagen → KeyBy → operators.Window → aggregate). Both emit
// rows of int64 columns (a timestamp as epoch milliseconds).
type WindowCase struct {
	Name string
	// SQL is the script over n rows into a sink of the given connector.
	SQL func(n int64, sink string) string
	// Go runs the Go job over n rows, handing each result to sink (from
	// the sink's goroutine; parallelism 1).
	Go func(ctx context.Context, n int64, sink func([]int64) error) error
}

func windowSource(n int64) string {
	return fmt.Sprintf(`CREATE TABLE src (
  id BIGINT, v BIGINT,
  k AS id %% %[3]d,
  ts AS TO_TIMESTAMP_LTZ(id, 3),
  WATERMARK FOR ts AS ts
) WITH (
  'connector' = 'datagen', 'number-of-rows' = '%[1]d', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%[2]d',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '0', 'fields.v.end' = '%[2]d');
`, n, n-1, Keys)
}

// WindowCases are the tumbling count, hop count and four-aggregate cases.
var WindowCases = []WindowCase{
	{
		Name: "sql/tumble-count",
		SQL: func(n int64, sink string) string {
			return windowSource(n) + fmt.Sprintf(`CREATE TABLE snk (k INT, ws TIMESTAMP(3), c BIGINT) WITH ('connector' = '%s');
INSERT INTO snk SELECT k, window_start, COUNT(*)
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY k, window_start, window_end;
`, sink)
		},
		Go: func(ctx context.Context, n int64, sink func([]int64) error) error {
			return goWindow(ctx, n, operators.Tumbling(windowSize), operators.Count[event](), func(c int64) []int64 { return []int64{c} }, sink)
		},
	},
	{
		Name: "sql/hop-count",
		SQL: func(n int64, sink string) string {
			return windowSource(n) + fmt.Sprintf(`CREATE TABLE snk (k INT, ws TIMESTAMP(3), c BIGINT) WITH ('connector' = '%s');
INSERT INTO snk SELECT k, window_start, COUNT(*)
FROM TABLE(HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
GROUP BY k, window_start, window_end;
`, sink)
		},
		Go: func(ctx context.Context, n int64, sink func([]int64) error) error {
			return goWindow(ctx, n, operators.Sliding(windowSize, hopSlide), operators.Count[event](), func(c int64) []int64 { return []int64{c} }, sink)
		},
	},
	{
		Name: "sql/tumble-4-aggregates",
		SQL: func(n int64, sink string) string {
			return windowSource(n) + fmt.Sprintf(`CREATE TABLE snk (k INT, ws TIMESTAMP(3), c BIGINT, s BIGINT, lo BIGINT, hi BIGINT) WITH ('connector' = '%s');
INSERT INTO snk SELECT k, window_start, COUNT(*), SUM(v), MIN(v), MAX(v)
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY k, window_start, window_end;
`, sink)
		},
		Go: func(ctx context.Context, n int64, sink func([]int64) error) error {
			return goWindow(ctx, n, operators.Tumbling(windowSize), fourAggs{}, func(a aggs4) []int64 { return []int64{a.C, a.S, a.Lo, a.Hi} }, sink)
		},
	},
}

// event is the Go jobs' row.
type event struct{ K, V, TS int64 }

func goWindow[Acc, Out any](ctx context.Context, n int64, a operators.Assigner, agg state.Aggregator[event, Acc, Out], cols func(Out) []int64, sink func([]int64) error) error {
	j := engine.NewJob("sql-bench-go", engine.Config{StateBackend: "memory"})
	src := datagen.Source(datagen.Options{Count: n}, func(i int64) event { return event{K: i % Keys, V: i, TS: i} })
	s := engine.SourceOf(j, "src", src, engine.BoundedOutOfOrderness(0, func(e event) int64 { return e.TS }))
	ks := engine.KeyBy(s, func(e event) int64 { return e.K })
	res := operators.AggregateWindowed(operators.Window(ks, "window", a), agg)
	engine.ForEach(res, "snk", func(r operators.Windowed[int64, Out]) error {
		return sink(append([]int64{r.Key, r.Window.Start}, cols(r.Value)...))
	})
	return j.Execute(ctx)
}

// aggs4 is COUNT, SUM, MIN and MAX of v.
type aggs4 struct{ C, S, Lo, Hi int64 }

type fourAggs struct{}

func (fourAggs) CreateAccumulator() aggs4 { return aggs4{} }
func (fourAggs) Add(e event, a aggs4) aggs4 {
	if a.C == 0 || e.V < a.Lo {
		a.Lo = e.V
	}
	if a.C == 0 || e.V > a.Hi {
		a.Hi = e.V
	}
	a.C++
	a.S += e.V
	return a
}
func (fourAggs) Result(a aggs4) aggs4 { return a }
func (fourAggs) Merge(a, b aggs4) aggs4 {
	switch {
	case a.C == 0:
		return b
	case b.C == 0:
		return a
	}
	return aggs4{C: a.C + b.C, S: a.S + b.S, Lo: min(a.Lo, b.Lo), Hi: max(a.Hi, b.Hi)}
}
func (fourAggs) AccumulatorCodec() state.Codec[aggs4] { return aggs4Codec{} }

type aggs4Codec struct{}

func (aggs4Codec) Append(dst []byte, a aggs4) []byte {
	for _, x := range []int64{a.C, a.S, a.Lo, a.Hi} {
		dst = binary.AppendVarint(dst, x)
	}
	return dst
}

func (aggs4Codec) Decode(src []byte) (aggs4, error) {
	var xs [4]int64
	for i := range xs {
		x, k := binary.Varint(src)
		if k <= 0 {
			return aggs4{}, errors.New("sqlbench: corrupt accumulator")
		}
		xs[i], src = x, src[k:]
	}
	return aggs4{C: xs[0], S: xs[1], Lo: xs[2], Hi: xs[3]}, nil
}

// RowsSummary is what an equivalence test compares: the number of rows
// and each column's sum, minimum and maximum.
type RowsSummary struct {
	Rows          int64
	Sum, Min, Max []int64
}

func (s *RowsSummary) add(cols []int64) {
	if s.Rows == 0 {
		s.Sum = make([]int64, len(cols))
		s.Min = append([]int64(nil), cols...)
		s.Max = append([]int64(nil), cols...)
	}
	s.Rows++
	for i, c := range cols {
		s.Sum[i] += c
		s.Min[i] = min(s.Min[i], c)
		s.Max[i] = max(s.Max[i], c)
	}
}

// Equal reports whether two summaries are the same.
func (s RowsSummary) Equal(o RowsSummary) bool {
	return fmt.Sprint(s) == fmt.Sprint(o)
}

// SQLWindowSummary runs a case's SQL into a print sink and summarises its
// rows (timestamps as epoch milliseconds, the session zone being UTC).
func SQLWindowSummary(ctx context.Context, c WindowCase, n int64) (RowsSummary, error) {
	var mu sync.Mutex
	var s RowsSummary
	var perr error
	w := writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		cols, err := parsePrinted(strings.TrimSpace(string(b)))
		if err != nil {
			perr = err
			return 0, err
		}
		s.add(cols)
		return len(b), nil
	})
	err := runSQL(ctx, c.SQL(n, "print"), planner.RunOptions{Stdout: w})
	if perr != nil {
		return s, perr
	}
	return s, err
}

// GoWindowSummary runs a case's Go job and summarises its rows.
func GoWindowSummary(ctx context.Context, c WindowCase, n int64) (RowsSummary, error) {
	var s RowsSummary
	err := c.Go(ctx, n, func(cols []int64) error {
		s.add(cols)
		return nil
	})
	return s, err
}

// parseJavaTime reads Java's LocalDateTime.toString form (seconds and
// fraction omitted when zero) as epoch milliseconds.
func parseJavaTime(f string) (int64, error) {
	var err error
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"} {
		var t time.Time
		if t, err = time.Parse(layout, f); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, err
}

// parsePrinted reads a print sink line "+I[3, 1970-01-01T00:00:10, 7]"
// as integers, timestamps as epoch milliseconds.
func parsePrinted(line string) ([]int64, error) {
	body, ok := strings.CutPrefix(line, "+I[")
	if !ok || !strings.HasSuffix(body, "]") {
		return nil, fmt.Errorf("sqlbench: unexpected print line %q", line)
	}
	var cols []int64
	for _, f := range strings.Split(strings.TrimSuffix(body, "]"), ", ") {
		if v, err := strconv.ParseInt(f, 10, 64); err == nil {
			cols = append(cols, v)
			continue
		}
		ms, err := parseJavaTime(f)
		if err != nil {
			return nil, fmt.Errorf("sqlbench: print line %q: field %q is neither an integer nor a timestamp", line, f)
		}
		cols = append(cols, ms)
	}
	return cols, nil
}
