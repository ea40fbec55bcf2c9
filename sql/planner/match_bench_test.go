package planner_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
)

// BenchmarkMatchRecognize runs the V-shape pattern (a fall of one or more
// rows, then a rise) over b.N generated rows in 16 partitions, on the
// memory state backend, to a blackhole: rows/s through the matcher.
func BenchmarkMatchRecognize(b *testing.B) {
	script := fmt.Sprintf(`
CREATE TABLE t (
  id BIGINT,
  k AS MOD(id, 16),
  price AS MOD(id * id * 31 + id * 7, 23),
  ts AS TO_TIMESTAMP_LTZ(id * 10 - MOD(id * 7919, 40), 3),
  WATERMARK FOR ts AS ts - INTERVAL '0.05' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%d');
CREATE TABLE snk (k BIGINT, s BIGINT, e BIGINT, avgDown BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT * FROM t MATCH_RECOGNIZE (
  PARTITION BY k ORDER BY ts
  MEASURES FIRST(S.id) AS s, LAST(id) AS e, AVG(D.price) AS avgDown
  PATTERN (S D+ U) WITHIN INTERVAL '10' SECOND
  DEFINE D AS D.price < PREV(D.price), U AS U.price > PREV(U.price)
);`, b.N-1)
	p, err := planner.Plan(script)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	cfg, err := p.Config()
	if err != nil {
		b.Fatal(err)
	}
	cfg.StateBackend = "memory"
	j := engine.NewJob(p.JobName("bench"), cfg)
	if err := p.Build(j, planner.RunOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := j.Execute(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
