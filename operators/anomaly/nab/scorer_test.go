package nab

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// synth is a series of n records five minutes apart with windows given as
// [first, last] record indexes.
func synth(name string, n int, windows ...[2]int) Series {
	s := Series{Name: name}
	for i := 0; i < n; i++ {
		s.Timestamps = append(s.Timestamps, t0.Add(time.Duration(i)*5*time.Minute))
		s.Values = append(s.Values, 0)
	}
	for _, w := range windows {
		s.Windows = append(s.Windows, Window{Start: s.Timestamps[w[0]], End: s.Timestamps[w[1]]})
	}
	return s
}

func detections(n int, at ...int) []float64 {
	d := make([]float64, n)
	for _, i := range at {
		d[i] = 1
	}
	return d
}

func approx(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9 {
		t.Errorf("%s = %.12f, want %.12f", what, got, want)
	}
}

// Scores of one series at threshold 0.5 with no probation, as NAB's
// Sweeper.scoreDataSet computes them.
func scoreOne(t *testing.T, s Series, scores []float64, costs CostMatrix) Threshold {
	t.Helper()
	saved := probationRate
	probationRate = 0
	defer func() { probationRate = saved }()
	rows := sweepRows(&s, scores, costs, 0, nil)
	th, ok := scoreAt(sweepThresholds(rows, len(s.Windows), costs), 0.5)
	if !ok {
		t.Fatal("no row for threshold 0.5")
	}
	return th
}

var unit = CostMatrix{TP: 1, FP: 1, FN: 1, TN: 1}

// NAB's own scorer test (tests/unit/scorer_test.py, testScoringAllMetrics):
// 100 records, windows at 30..34 and 65..69; detections at 30 (TP at the
// window's left edge: 1), 31 (a later TP in the same window: nothing more)
// and 37 (FP 3 records after a window of width 5: scaledSigmoid(3/4) =
// -0.954045); the second window is missed (-1). Total -0.9540.
func TestNABAllMetricsCase(t *testing.T) {
	s := synth("a", 100, [2]int{30, 34}, [2]int{65, 69})
	th := scoreOne(t, s, detections(100, 30, 31, 37), unit)
	approx(t, "score", th.Score, 1-1-0.9540452601799487)
	if th.TN != 89 || th.TP != 2 || th.FP != 1 || th.FN != 8 {
		t.Errorf("counts tp %d tn %d fp %d fn %d, want 2 89 1 8", th.TP, th.TN, th.FP, th.FN)
	}
}

func TestNABHandCases(t *testing.T) {
	s := synth("a", 100, [2]int{30, 34})
	// No detections: one missed window.
	approx(t, "null", scoreOne(t, s, detections(100), unit).Score, -1)
	// The last record of the window: position -1/5, scaledSigmoid(-0.2)
	// scaled by scaledSigmoid(-1) = 0.468387.
	approx(t, "late TP", scoreOne(t, s, detections(100, 34), unit).Score, 0.46838684390227814)
	// Mid-window (index 32: position -3/5) beats a later one: only the
	// earliest detection of a window counts.
	approx(t, "earliest TP", scoreOne(t, s, detections(100, 34, 32), unit).Score, 0.9174286804284079)
	// False positives before any window cost the full fpWeight each.
	approx(t, "early FPs", scoreOne(t, s, detections(100, 3, 10, 30), CostMatrix{TP: 1, FP: 0.11, FN: 1}).Score, 1-2*0.11)
	// Right after the window (1 record, width 5): scaledSigmoid(1/4); far
	// after (26 records): -1.
	approx(t, "near FP", scoreOne(t, s, detections(100, 35), unit).Score, -1-0.5545997223493824)
	approx(t, "far FP", scoreOne(t, s, detections(100, 60), unit).Score, -1-1)
	// Profiles scale the parts: fnWeight 2 doubles a miss.
	approx(t, "low FN miss", scoreOne(t, s, detections(100), CostMatrix{TP: 1, FP: 0.11, FN: 2}).Score, -2)
}

func TestNABProbationAndThresholdSweep(t *testing.T) {
	// 1000 records: the first 150 are probationary and never scored.
	s := synth("a", 1000, [2]int{500, 599})
	c := &Corpus{Series: []Series{s}, LabelledWindows: 1}
	if got := ProbationaryLength(1000); got != 150 {
		t.Fatalf("probation of 1000 records = %v", got)
	}
	if got := ProbationaryLength(100000); got != 750 {
		t.Fatalf("probation of 100000 records = %v (NAB caps it at 750)", got)
	}
	scores := make([]float64, 1000)
	scores[10] = 0.99 // probationary: ignored at every threshold
	scores[500] = 0.9 // the window's first record: worth 1
	scores[700] = 0.8 // a false positive 101 records after a window of width 100
	r, err := c.Score([][]float64{scores}, Standard)
	if err != nil {
		t.Fatal(err)
	}
	// The best threshold detects record 500 only.
	if r.Best.Threshold != 0.9 || r.Best.TP != 1 || r.Best.FP != 0 {
		t.Errorf("best %+v", r.Best)
	}
	approx(t, "best", r.Best.Score, 1)
	approx(t, "null", r.Null, -1)
	approx(t, "normalized", r.Normalized, 100)
	// Lowering the threshold to 0.8 adds the false positive, at position
	// 101/99 past the window: 0.11 * scaledSigmoid(101/99).
	rows := sweepRows(&c.Series[0], scores, Standard.Costs, 0, nil)
	ts := sweepThresholds(rows, 1, Standard.Costs)
	th, _ := scoreAt(ts, 0.8)
	approx(t, "at 0.8", th.Score, 1+0.11*(2/(1+math.Exp(5*101.0/99))-1))
}

// NAB matches window bounds to timestamps exactly, the first occurrence
// of a repeated timestamp (some NAB files repeat timestamps).
func TestNABRepeatedTimestamps(t *testing.T) {
	s := synth("a", 20, [2]int{5, 8})
	s.Timestamps[9] = s.Timestamps[8] // record 9 repeats the window's end
	saved := probationRate
	probationRate = 0
	defer func() { probationRate = saved }()
	rows := sweepRows(&s, detections(20, 9), unit, 0, nil)
	if rows[8].window != 0 || rows[9].window != noWindow {
		t.Fatalf("windows %d %d: the window must end at the first occurrence", rows[8].window, rows[9].window)
	}
	// Record 9 is a false positive 1 record after a window of width 4.
	approx(t, "fp", rows[9].sweep, 2/(1+math.Exp(5.0/3))-1)
}

// The published normalisation anchors on the real corpus: the null
// detector's raw scores are those in NAB's config/thresholds.json
// (-116, -116, -232) and normalise to 0; flagging every window at its first
// record normalises to 100.
func TestNABCorpusAnchors(t *testing.T) {
	dir := corpusDir(t)
	c, err := LoadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Series) != 58 || c.LabelledWindows != 116 || c.Points() != 365558 {
		t.Fatalf("%d series, %d windows, %d points", len(c.Series), c.LabelledWindows, c.Points())
	}
	profiles, err := LoadProfiles(filepath.Join(dir, "config", "profiles.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range profiles {
		found := false
		for _, q := range ProfilesV11 {
			found = found || p == q
		}
		if !found {
			t.Errorf("profile %+v differs from the built-in v1.1 profiles", p)
		}
	}
	zero := make([][]float64, len(c.Series))
	perfect := make([][]float64, len(c.Series))
	for i, s := range c.Series {
		zero[i] = make([]float64, len(s.Values))
		perfect[i] = make([]float64, len(s.Values))
		for _, w := range s.Windows {
			for j, ts := range s.Timestamps {
				if ts.Equal(w.Start) {
					perfect[i][j] = 1
					break
				}
			}
		}
	}
	wantNull := map[string]float64{"standard": -116, "reward_low_FP_rate": -116, "reward_low_FN_rate": -232}
	for _, p := range ProfilesV11 {
		r, err := c.Score(zero, p)
		if err != nil {
			t.Fatal(err)
		}
		approx(t, p.Name+" null raw", r.Best.Score, wantNull[p.Name])
		approx(t, p.Name+" null", r.Normalized, 0)
		r, _ = c.Score(perfect, p)
		approx(t, p.Name+" perfect", r.Normalized, 100)
	}
}

func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLUICE_NAB_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "datasets", "nab")
	}
	if _, err := os.Stat(filepath.Join(dir, "labels", "combined_windows.json")); err != nil {
		if os.Getenv("SLUICE_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("NAB corpus not found at %s (set SLUICE_NAB_DIR): %v", dir, err)
		}
		t.Skipf("NAB corpus not found at %s (set SLUICE_NAB_DIR)", dir)
	}
	return dir
}
