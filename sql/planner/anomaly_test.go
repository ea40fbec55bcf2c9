package planner_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/operators/anomaly"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// anomalyData is the generated input of the anomaly tests: row id has
// key id % keys, two values with an outlier every 97 rows, and an event
// time out of order by up to 40 ms (the watermark waits 50 ms). The SQL
// table computes the same columns.
type anomalyData struct{ n, keys int64 }

func (g anomalyData) table(par int) string {
	return fmt.Sprintf(`
CREATE TABLE src (
  id BIGINT,
  k AS id %% %d,
  a AS CAST(MOD(id * 7919, 1000) AS DOUBLE) / 10 + CASE WHEN MOD(id, 97) = 0 THEN 500 ELSE 0 END,
  b AS CAST(MOD(id * 104729, 77) AS DOUBLE),
  ts AS TO_TIMESTAMP_LTZ(id * 10 - MOD(id * 7919, 40), 3),
  WATERMARK FOR ts AS ts - INTERVAL '0.05' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%d');
SET 'parallelism.default' = '%d';
`, g.keys, g.n-1, par)
}

func (g anomalyData) values(id int64) (a, b float64) {
	a = float64(id*7919%1000) / 10
	if id%97 == 0 {
		a += 500
	}
	return a, float64(id * 104729 % 77)
}

// TestAnomalySQLEqualsGo runs RANDOM_CUT_FOREST_WITH_EXPLANATION (with
// ANOMALY_PROBABILITY) and HOTSPOTS in SQL and the Go operators over the
// same rows with the same seed and parameters: every output row is the
// same, bit for bit.
func TestAnomalySQLEqualsGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	g := anomalyData{n: 300 + rng.Int64N(500), keys: 1}
	p := anomaly.RCFParams{
		NumberOfTrees: 5 + rng.IntN(40), SubSampleSize: 10 + rng.IntN(100), ShingleSize: 1 + rng.IntN(3),
		WithDirectionality: rng.IntN(2) == 0, Seed: rng.Uint64() >> 1, Probability: true,
	}
	p.TimeDecay = p.SubSampleSize + 1 + rng.IntN(5000)
	t.Logf("rows %d, params %+v", g.n, p)
	script := g.table(1) + fmt.Sprintf(`
CREATE TABLE snk (id BIGINT, a DOUBLE, b DOUBLE, s DOUBLE, e STRING, pr DOUBLE) WITH ('connector' = 'print');
INSERT INTO snk SELECT id, a, b, ANOMALY_SCORE, ANOMALY_EXPLANATION, ANOMALY_PROBABILITY
FROM TABLE(RANDOM_CUT_FOREST_WITH_EXPLANATION(TABLE src, DESCRIPTOR(a, b), %d, %d, %d, %d, %v, seed => %d, probability => TRUE));
`, p.NumberOfTrees, p.SubSampleSize, p.TimeDecay, p.ShingleSize, p.WithDirectionality, p.Seed)
	got, err := runSQL(t, script)
	if err != nil {
		t.Fatal(err)
	}
	op, err := anomaly.NewRandomCutForestWithExplanation(anomaly.Schema{{Name: "id", Type: anomaly.TypeOther}, {Name: "a", Type: anomaly.TypeDouble}, {Name: "b", Type: anomaly.TypeDouble}}, p)
	if err != nil {
		t.Fatal(err)
	}
	l := row.NewLayout([]types.Type{types.BigIntType(), types.DoubleType(), types.DoubleType(), types.DoubleType(), types.StringType(), types.DoubleType()}, nil)
	var want []string
	for id := range g.n {
		a, b := g.values(id)
		out, err := op.Process(anomaly.Row{id, a, b})
		if err != nil {
			t.Fatal(err)
		}
		r, err := l.Of(row.Insert, id, a, b, out[3], out[4], out[5])
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r.String())
	}
	if w := sortedLines(want); got != w {
		t.Fatalf("SQL and Go differ:\nSQL:\n%s\nGo:\n%s", firstLines(got, 5), firstLines(w, 5))
	}

	// HOTSPOTS, every numeric column of a cursor's query a dimension.
	hp := anomaly.HotspotsParams{WindowSize: 100 + rng.IntN(200), ScanRadius: 5 + rng.Float64()*50, MinimumNumberOfPointsInAHotspot: 2 + rng.IntN(20)}
	t.Logf("hotspots %+v", hp)
	script = g.table(1) + fmt.Sprintf(`
CREATE TABLE snk (id STRING, a DOUBLE, b DOUBLE, h STRING) WITH ('connector' = 'print');
INSERT INTO snk SELECT STREAM * FROM TABLE(HOTSPOTS(CURSOR(SELECT STREAM CAST(id AS STRING), a, b FROM src), %d, %v, %d));
`, hp.WindowSize, hp.ScanRadius, hp.MinimumNumberOfPointsInAHotspot)
	if got, err = runSQL(t, script); err != nil {
		t.Fatal(err)
	}
	hop, err := anomaly.NewHotspots(anomaly.Schema{{Name: "id", Type: anomaly.TypeVarchar}, {Name: "a", Type: anomaly.TypeDouble}, {Name: "b", Type: anomaly.TypeDouble}}, hp)
	if err != nil {
		t.Fatal(err)
	}
	l = row.NewLayout([]types.Type{types.StringType(), types.DoubleType(), types.DoubleType(), types.StringType()}, nil)
	want = want[:0]
	for id := range g.n {
		a, b := g.values(id)
		out, err := hop.Process(anomaly.Row{fmt.Sprint(id), a, b})
		if err != nil {
			t.Fatal(err)
		}
		r, err := l.Of(row.Insert, fmt.Sprint(id), a, b, out[3])
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r.String())
	}
	if w := sortedLines(want); got != w {
		t.Fatalf("HOTSPOTS: SQL and Go differ:\nSQL:\n%s\nGo:\n%s", firstLines(got, 5), firstLines(w, 5))
	}
}

func firstLines(s string, n int) string {
	ls := strings.SplitN(s, "\n", n+1)
	return strings.Join(ls[:min(n, len(ls))], "\n")
}

// TestAnomalyPartitionedEqualsBatchWithFailures runs RANDOM_CUT_FOREST
// with a forest per key (PARTITION BY k) at parallelism 1, 2 or 4 with up
// to two failures and restarts from checkpoints, and compares the rows
// committed exactly once with a loop over the rows: per key, a forest
// seeded KeySeed(seed, key) fed that key's rows in order. The forests are
// checkpointed, so a restart continues them bit for bit. A key's rows all
// come from one source subtask (datagen's subtask s emits ids s, s+p, ...
// and the number of keys is a multiple of p), so each forest sees its
// rows in id order whatever the parallelism.
func TestAnomalyPartitionedEqualsBatchWithFailures(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	par := []int{1, 2, 4}[rng.IntN(3)]
	g := anomalyData{n: 800 + rng.Int64N(800), keys: 4 * (1 + rng.Int64N(2))}
	seed := rng.Uint64() >> 1
	var failAt []int64
	for range rng.IntN(3) {
		failAt = append(failAt, 1+rng.Int64N(g.n-1))
	}
	t.Logf("rows %d, keys %d, parallelism %d, seed %d, failures at %v", g.n, g.keys, par, seed, failAt)
	script := g.table(par) + fmt.Sprintf(`
CREATE TABLE snk (id BIGINT, k BIGINT, s DOUBLE, pr DOUBLE) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT id, k, ANOMALY_SCORE, ANOMALY_PROBABILITY
FROM TABLE(RANDOM_CUT_FOREST(TABLE src PARTITION BY k, DESCRIPTOR(a, b), numberOfTrees => 20, subSampleSize => 32, timeDecay => 2000, seed => %d, probability => TRUE));
`, seed)
	got := applyChangelog(t, runWithFailures(t, script, "snk", failAt))

	l := row.NewLayout([]types.Type{types.BigIntType(), types.BigIntType(), types.DoubleType(), types.DoubleType()}, nil)
	forests := map[int64]*anomaly.RCF{}
	var want []string
	for id := range g.n {
		k := id % g.keys
		f := forests[k]
		if f == nil {
			var err error
			f, err = anomaly.NewRandomCutForest(anomaly.Schema{{Name: "a", Type: anomaly.TypeDouble}, {Name: "b", Type: anomaly.TypeDouble}},
				anomaly.RCFParams{NumberOfTrees: 20, SubSampleSize: 32, TimeDecay: 2000, Seed: anomaly.KeySeed(seed, fmt.Sprint(k)), Probability: true})
			if err != nil {
				t.Fatal(err)
			}
			forests[k] = f
		}
		a, b := g.values(id)
		out, err := f.Process(anomaly.Row{a, b})
		if err != nil {
			t.Fatal(err)
		}
		r, err := l.Of(row.Insert, id, k, out[2], out[3])
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r.String())
	}
	if w := sortedLines(want); got != w {
		t.Fatalf("SQL with failures and the batch loop differ:\nSQL:\n%s\nbatch:\n%s", firstLines(got, 5), firstLines(w, 5))
	}
}
