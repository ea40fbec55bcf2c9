package planner_test

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/operators/anomaly"
	"github.com/sluicehq/sluice/operators/anomaly/nab"
)

var nabAll = flag.Bool("nab.all", false, "TestNABThroughSQL: compare SQL and Go over the whole NAB corpus")

// nabDir finds the NAB data set as `sluice bench nab` does: $SLUICE_NAB_DIR,
// else shared/datasets/nab beside the working directory or a parent.
func nabDir(t *testing.T) string {
	if d := os.Getenv("SLUICE_NAB_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "..", "shared", "datasets", "nab")
		if _, err := os.Stat(filepath.Join(c, "labels")); err == nil {
			return c
		}
		if filepath.Dir(d) == d {
			t.Skip("NAB data set not found (set SLUICE_NAB_DIR)")
		}
	}
}

// nabSQLScores runs one NAB series through RANDOM_CUT_FOREST in SQL, as
// `sluice bench nab` runs it through the Go operator (KDA's defaults, the
// timestamp and value columns, the calibrated output on), reading the
// series from a CSV file, and returns ANOMALY_SCORE and
// ANOMALY_PROBABILITY per record.
func nabSQLScores(t *testing.T, s *nab.Series, seed uint64) (score, prob []float64) {
	dir := t.TempDir()
	var b strings.Builder
	for i, ts := range s.Timestamps {
		fmt.Fprintf(&b, "%s,%s\n", ts.Format("2006-01-02 15:04:05"), strconv.FormatFloat(s.Values[i], 'g', -1, 64))
	}
	if err := os.WriteFile(filepath.Join(dir, "series.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rows := runWithFailures(t, fmt.Sprintf(`
CREATE TABLE series (ts TIMESTAMP(3), `+"`value`"+` DOUBLE) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE TABLE scores (ts TIMESTAMP(3), s DOUBLE, p DOUBLE) WITH ('connector' = 'blackhole');
INSERT INTO scores SELECT ts, ANOMALY_SCORE, ANOMALY_PROBABILITY
FROM TABLE(RANDOM_CUT_FOREST(TABLE series, seed => %d, probability => TRUE));
`, dir, seed), "scores", nil)
	if len(rows) != len(s.Values) {
		t.Fatalf("%s: %d rows, want %d", s.Name, len(rows), len(s.Values))
	}
	for i, r := range rows {
		if got, want := r.Timestamp(0).Millis, s.Timestamps[i].UnixMilli(); got != want {
			t.Fatalf("%s: row %d has time %d, want %d", s.Name, i, got, want)
		}
		score = append(score, r.Float(1))
		prob = append(prob, r.Float(2))
	}
	return score, prob
}

// TestNABThroughSQL scores a few NAB series through SQL and through the Go
// operator exactly as `sluice bench nab` does (same seeds: run 1's), and
// checks every score is the same, hence the NAB scores of both detectors
// (the raw score and ANOMALY_PROBABILITY) over those series too. The full
// corpus is compared by `go test ./sql/planner/ -run TestNABThroughSQL
// -nab.all` (see BENCHMARKS.md).
func TestNABThroughSQL(t *testing.T) {
	corpus, err := nab.LoadCorpus(nabDir(t))
	if err != nil {
		t.Fatal(err)
	}
	pick := map[string]bool{
		"artificialWithAnomaly/art_daily_jumpsup.csv":           true,
		"realKnownCause/ambient_temperature_system_failure.csv": true,
		"realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv":      true,
		"realAdExchange/exchange-2_cpc_results.csv":             true,
	}
	if *nabAll {
		pick = nil
	}
	sub := &nab.Corpus{}
	var sqlRaw, sqlProb, goRaw, goProb [][]float64
	scale := 1 / math.Log2(anomaly.DefaultSampleSize+1)
	for i := range corpus.Series {
		s := &corpus.Series[i]
		if pick != nil && !pick[s.Name] {
			continue
		}
		seed := uint64(1)*1000003 + uint64(i) // `sluice bench nab`'s first run
		score, prob := nabSQLScores(t, s, seed)
		op, err := anomaly.NewRandomCutForest(anomaly.Schema{{Name: "timestamp", Type: anomaly.TypeTimestamp}, {Name: "value", Type: anomaly.TypeDouble}},
			anomaly.RCFParams{Seed: seed, Probability: true})
		if err != nil {
			t.Fatal(err)
		}
		gr, gp := make([]float64, len(s.Values)), make([]float64, len(s.Values))
		for k, v := range s.Values {
			out, err := op.Process(anomaly.Row{s.Timestamps[k], v})
			if err != nil {
				t.Fatal(err)
			}
			gr[k], gp[k] = out[2].(float64)*scale, out[3].(float64)
			if out[2].(float64) != score[k] || gp[k] != prob[k] {
				t.Fatalf("%s record %d: SQL scores %v/%v, Go %v/%v", s.Name, k, score[k], prob[k], out[2], gp[k])
			}
			score[k] *= scale
		}
		sub.Series = append(sub.Series, *s)
		sub.LabelledWindows += len(s.Windows)
		sqlRaw, sqlProb, goRaw, goProb = append(sqlRaw, score), append(sqlProb, prob), append(goRaw, gr), append(goProb, gp)
	}
	if len(sub.Series) == 0 || pick != nil && len(sub.Series) != len(pick) {
		t.Fatalf("%d series found", len(sub.Series))
	}
	for _, p := range nab.ProfilesV11 {
		for _, d := range []struct {
			name       string
			sql, goAPI [][]float64
		}{{"rcf_kda_defaults", sqlRaw, goRaw}, {"rcf_probability", sqlProb, goProb}} {
			a, err := sub.Score(d.sql, p)
			if err != nil {
				t.Fatal(err)
			}
			b, err := sub.Score(d.goAPI, p)
			if err != nil {
				t.Fatal(err)
			}
			if a.Normalized != b.Normalized {
				t.Fatalf("%s %s: SQL %v, Go %v", d.name, p.Name, a.Normalized, b.Normalized)
			}
			t.Logf("nab/%s %s over %d series: SQL %.2f, Go %.2f", d.name, p.Name, len(sub.Series), a.Normalized, b.Normalized)
		}
	}
}
