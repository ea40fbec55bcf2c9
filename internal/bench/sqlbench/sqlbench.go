// Package sqlbench is `sluice bench sql`: a SQL job (sql/planner) beside the
// hand-written Go API job that computes the same thing, on the same
// generated rows, into a sink that discards them. The Go job is the
// reference: the test checks that both produce the same rows.
package sqlbench

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/sql/planner"
)

// Config is the configuration of Run (`sluice bench sql`).
type Config struct {
	Runs    int   // runs per case; figures are medians
	Records int64 // generated rows per run
}

// DefaultConfig is the configuration of the published figures.
var DefaultConfig = Config{Runs: 5, Records: 2_000_000}

// FilterProjectSQL is case (1): keep the rows whose id is even and project
// (id, v*2+1). Both columns are datagen sequences 0..n-1, so the Go job can
// generate the same rows without reimplementing the random generator.
func FilterProjectSQL(n int64, sink string) string {
	return fmt.Sprintf(`CREATE TABLE src (id BIGINT, v BIGINT) WITH (
  'connector' = 'datagen', 'number-of-rows' = '%[1]d', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%[2]d',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '0', 'fields.v.end' = '%[2]d');
CREATE TABLE snk (id BIGINT, w BIGINT) WITH ('connector' = '%[3]s');
INSERT INTO snk SELECT id, v * 2 + 1 FROM src WHERE id %% 2 = 0;
`, n, n-1, sink)
}

// Out is one output row of the filter+project case.
type Out struct{ ID, W int64 }

type in struct{ ID, V int64 }

// SQLJob runs the filter+project case as SQL into the blackhole sink and
// blocks until the job ends.
func SQLJob(ctx context.Context, n int64) error {
	return runSQL(ctx, FilterProjectSQL(n, "blackhole"), planner.RunOptions{})
}

func runSQL(ctx context.Context, script string, o planner.RunOptions) error {
	p, err := planner.Plan(script)
	if err != nil {
		return fmt.Errorf("sqlbench: plan: %w", err)
	}
	cfg, err := p.Config()
	if err != nil {
		return fmt.Errorf("sqlbench: %w", err)
	}
	cfg.StateBackend = "memory"
	j := engine.NewJob(p.JobName("sql-bench"), cfg)
	if err := p.Build(j, o); err != nil {
		return fmt.Errorf("sqlbench: build: %w", err)
	}
	return j.Execute(ctx)
}

// GoJob runs the hand-written equivalent of FilterProjectSQL, handing every
// output row to sink (called from the sink's goroutine; parallelism 1), and
// blocks until the job ends.
func GoJob(ctx context.Context, n int64, sink func(Out) error) error {
	j := engine.NewJob("sql-bench-go", engine.Config{StateBackend: "memory"})
	src := datagen.Source(datagen.Options{Count: n}, func(i int64) in { return in{ID: i, V: i} })
	s := engine.SourceOf(j, "src", src, engine.NoWatermarks[in]())
	out := engine.FlatMap(s, "filter-project", func(r in, emit func(Out)) {
		if r.ID%2 == 0 {
			emit(Out{ID: r.ID, W: r.V*2 + 1})
		}
	})
	engine.ForEach(out, "snk", sink)
	return j.Execute(ctx)
}

// Summary is what the equivalence test compares: rows and column sums.
type Summary struct{ Rows, SumID, SumW int64 }

// SQLSummary runs the SQL case into a collecting sink (in place of the
// blackhole) and summarises its rows.
func SQLSummary(ctx context.Context, n int64) (Summary, error) {
	var mu sync.Mutex
	var s Summary
	w := writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		var r Out
		if _, err := fmt.Sscanf(string(b), "+I[%d, %d]", &r.ID, &r.W); err != nil {
			return 0, fmt.Errorf("sqlbench: unexpected print line %q: %w", b, err)
		}
		s.Rows++
		s.SumID += r.ID
		s.SumW += r.W
		return len(b), nil
	})
	err := runSQL(ctx, FilterProjectSQL(n, "print"), planner.RunOptions{Stdout: w})
	return s, err
}

// GoSummary runs the Go job into a collecting sink and summarises its rows.
func GoSummary(ctx context.Context, n int64) (Summary, error) {
	var s Summary
	err := GoJob(ctx, n, func(r Out) error {
		s.Rows++
		s.SumID += r.ID
		s.SumW += r.W
		return nil
	})
	return s, err
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Run runs each case (filter+project, WindowCases, then ChangeCases) as SQL and as
// the Go job, interleaved (SQL, Go, SQL, Go, ...), and emits one result
// per case with the SQL figures and the Go job as its baseline
// (baseline_ratio = SQL records/s ÷ Go records/s). It blocks until the
// runs are done or ctx ends.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	switch {
	case cfg.Runs < 1:
		return bench.ConfigError("--runs must be at least 1")
	case cfg.Records < 1:
		return bench.ConfigError("--records must be at least 1")
	}
	n := cfg.Records
	type job struct {
		name       string
		sql, goJob func() error
		records    int64 // rows read per run; 0: n
	}
	jobs := []job{{
		name:  "sql/filter-project",
		sql:   func() error { return SQLJob(ctx, n) },
		goJob: func() error { return GoJob(ctx, n, func(Out) error { return nil }) },
	}}
	for _, c := range WindowCases {
		jobs = append(jobs, job{
			name:  c.Name,
			sql:   func() error { return runSQL(ctx, c.SQL(n, "blackhole"), planner.RunOptions{}) },
			goJob: func() error { return c.Go(ctx, n, func([]int64) error { return nil }) },
		})
	}
	for _, c := range ChangeCases {
		jobs = append(jobs, job{
			name:    c.Name,
			sql:     func() error { return runSQL(ctx, c.SQL(n, "blackhole"), planner.RunOptions{}) },
			goJob:   func() error { return c.Go(ctx, n, nil) },
			records: c.Records(n),
		})
	}
	for _, jb := range jobs {
		recs := n
		if jb.records > 0 {
			recs = jb.records
		}
		var sqlS, goS []bench.Sample
		for r := 0; r < cfg.Runs; r++ {
			s, err := bench.Measure(func() (int64, int64, error) { return recs, 0, jb.sql() })
			if err != nil {
				return fmt.Errorf("%s: %w", jb.name, err)
			}
			sqlS = append(sqlS, s)
			g, err := bench.Measure(func() (int64, int64, error) { return recs, 0, jb.goJob() })
			if err != nil {
				return fmt.Errorf("%s go job: %w", jb.name, err)
			}
			goS = append(goS, g)
		}
		// On a shared machine wall time mostly measures the other
		// processes; the CPU-time ratio is the steadier comparison.
		res := bench.FromSamples(jb.name, sqlS).WithBaseline(goS)
		goCPU := bench.Median(goS, bench.Sample.RecordsPerCPUSec)
		res = res.Set("go_records_per_cpu_sec", math.Round(goCPU))
		if goCPU > 0 {
			res = res.Set("baseline_cpu_ratio", math.Round(res.RecordsPerCPUSec/goCPU*1e4)/1e4)
		}
		if err := emit(res); err != nil {
			return err
		}
	}
	return nil
}
