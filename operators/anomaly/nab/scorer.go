package nab

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"time"
)

// CostMatrix weighs the outcomes of a scoring profile.
type CostMatrix struct {
	TP float64 `json:"tpWeight"`
	FP float64 `json:"fpWeight"`
	FN float64 `json:"fnWeight"`
	TN float64 `json:"tnWeight"`
}

// Profile is a named cost matrix.
type Profile struct {
	Name  string
	Costs CostMatrix
}

// The three profiles of NAB v1.1 (config/profiles.json).
var (
	Standard      = Profile{"standard", CostMatrix{TP: 1, FP: 0.11, FN: 1, TN: 1}}
	RewardLowFP   = Profile{"reward_low_FP_rate", CostMatrix{TP: 1, FP: 0.22, FN: 1, TN: 1}}
	RewardLowFN   = Profile{"reward_low_FN_rate", CostMatrix{TP: 1, FP: 0.11, FN: 2, TN: 1}}
	ProfilesV11   = []Profile{Standard, RewardLowFP, RewardLowFN}
	probationRate = 0.15
)

// LoadProfiles reads a NAB config/profiles.json.
func LoadProfiles(path string) ([]Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nab: %w", err)
	}
	var raw map[string]struct {
		CostMatrix CostMatrix
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorpus, path, err)
	}
	var out []Profile
	for name, p := range raw {
		out = append(out, Profile{Name: name, Costs: p.CostMatrix})
	}
	slices.SortFunc(out, func(a, b Profile) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

// ProbationaryLength is the number of leading records of a series of n
// records that NAB does not score: 15 % of it, at most 750 records.
func ProbationaryLength(n int) float64 {
	return math.Min(math.Floor(probationRate*float64(n)), probationRate*5000)
}

// scaledSigmoid is NAB's scoring curve over a relative position: about +1
// at the left edge of a window (-1), 0 at its right edge (0), negative and
// down to -1 past it.
func scaledSigmoid(pos float64) float64 {
	if pos >= 3 {
		return -1
	}
	return 2/(1+math.Exp(5*pos)) - 1
}

// Window marks in a scored row.
const (
	noWindow     = -1
	probationary = -2
)

// row is one record as the sweep sees it (NAB's AnomalyPoint).
type row struct {
	score  float64
	sweep  float64 // the record's weighted contribution if it is detected
	window int     // corpus-wide window index, noWindow or probationary
}

// sweepRows computes, for every record of a series, what detecting it would
// contribute, as NAB v1.1's Sweeper.calcSweepScore does: inside a window a
// true-positive weight falling with the position in the window, outside a
// false-positive cost depending on the distance from the preceding window.
// Window boundaries are matched to timestamps exactly, taking the first
// occurrence of a repeated timestamp, as NAB does. firstWindow numbers the
// series' windows corpus-wide.
func sweepRows(s *Series, scores []float64, costs CostMatrix, firstWindow int, dst []row) []row {
	ts := s.Timestamps
	index := func(t time.Time) int { return slices.IndexFunc(ts, t.Equal) }
	maxTP := scaledSigmoid(-1)
	probation := ProbationaryLength(len(ts))
	pending := s.Windows
	next := firstWindow
	cur := noWindow
	var curEnd time.Time
	var curRight int
	var curWidth float64
	prevRight, prevWidth := -1, 0.0
	for i, t := range ts {
		if len(pending) > 0 && t.Equal(pending[0].Start) {
			w := pending[0]
			pending = pending[1:]
			cur, next = next, next+1
			curEnd = w.End
			curRight = index(w.End)
			curWidth = float64(curRight - index(w.Start) + 1)
		}
		var weighted float64
		if cur != noWindow {
			pos := -float64(curRight-i+1) / curWidth
			weighted = scaledSigmoid(pos) * costs.TP / maxTP
		} else {
			pos := 3.0
			if prevRight >= 0 {
				pos = math.Abs(float64(prevRight-i)) / (prevWidth - 1)
			}
			weighted = scaledSigmoid(pos) * costs.FP
		}
		win := cur
		if float64(i) < probation {
			win = probationary
		}
		dst = append(dst, row{score: scores[i], sweep: weighted, window: win})
		if cur != noWindow && t.Equal(curEnd) {
			prevRight, prevWidth = i, curWidth
			cur = noWindow
		}
	}
	return dst
}

// Threshold is the outcome of one detection threshold over the corpus:
// records scoring at or above it are detections.
type Threshold struct {
	Threshold      float64
	Score          float64
	TP, TN, FP, FN int
}

// sweepThresholds returns the corpus score for every distinct threshold, in
// decreasing threshold order, as NAB's Sweeper.calcScoreByThreshold does:
// starting above every score (no detections: every window a false
// negative), lowering the threshold one distinct score at a time; a window
// is worth its best (earliest) detection, false positives add up.
func sweepThresholds(rows []row, numWindows int, costs CostMatrix) []Threshold {
	scorable := make([]row, 0, len(rows))
	for _, r := range rows {
		if r.window != probationary {
			scorable = append(scorable, r)
		}
	}
	slices.SortStableFunc(scorable, func(a, b row) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	// NAB keeps the parts in a dict: "fp" first, then windows in the order
	// they appear in the sorted list; the total is summed in that order.
	part := make([]float64, numWindows)
	has := make([]bool, numWindows)
	var order []int
	for _, r := range scorable {
		if r.window >= 0 && !has[r.window] {
			has[r.window] = true
			part[r.window] = -costs.FN
			order = append(order, r.window)
		}
	}
	fp := 0.0
	total := func() float64 {
		s := fp
		for _, w := range order {
			s += part[w]
		}
		return s
	}
	var tp, fpn, tn, fn int
	for _, r := range scorable {
		if r.window == noWindow {
			tn++
		} else {
			fn++
		}
	}
	out := []Threshold{}
	cur := 1.1
	for _, r := range scorable {
		if r.score != cur {
			out = append(out, Threshold{cur, total(), tp, tn, fpn, fn})
			cur = r.score
		}
		if r.window != noWindow {
			tp++
			fn--
			part[r.window] = math.Max(part[r.window], r.sweep)
		} else {
			fpn++
			tn--
			fp += r.sweep
		}
	}
	return append(out, Threshold{cur, total(), tp, tn, fpn, fn})
}

// Result is a detector's outcome on the corpus under one profile.
type Result struct {
	Profile string
	// Best is the best threshold: NAB optimises one threshold per detector
	// and profile over the whole corpus.
	Best Threshold
	// Null is the raw score of the null detector (it detects nothing) and
	// Perfect that of a detector that flags every window at its start.
	Null, Perfect float64
	// Normalized is NAB's reported score: 100*(Best-Null)/(Perfect-Null).
	Normalized float64
}

// Score scores a detector's output on the corpus under a profile as NAB
// v1.1 does: sweep rows per series, optimise the threshold over the whole
// corpus, normalise with the null detector. scores[i] are the detector's
// scores for c.Series[i], one per record.
func (c *Corpus) Score(scores [][]float64, p Profile) (Result, error) {
	rows, numWindows, err := c.rows(scores, p.Costs)
	if err != nil {
		return Result{}, err
	}
	res := Result{Profile: p.Name, Best: best(sweepThresholds(rows, numWindows, p.Costs))}
	// The null detector scores 0 everywhere.
	for i := range rows {
		rows[i].score = 0
	}
	res.Null = best(sweepThresholds(rows, numWindows, p.Costs)).Score
	res.Perfect = float64(c.LabelledWindows) * p.Costs.TP
	res.Normalized = 100 * (res.Best.Score - res.Null) / (res.Perfect - res.Null)
	return res, nil
}

// rows sweeps every series.
func (c *Corpus) rows(scores [][]float64, costs CostMatrix) ([]row, int, error) {
	if len(scores) != len(c.Series) {
		return nil, 0, fmt.Errorf("nab: %d score series for %d data series", len(scores), len(c.Series))
	}
	var rows []row
	w := 0
	for i := range c.Series {
		s := &c.Series[i]
		if len(scores[i]) != len(s.Values) {
			return nil, 0, fmt.Errorf("nab: %s: %d scores for %d records", s.Name, len(scores[i]), len(s.Values))
		}
		for _, v := range scores[i] {
			if math.IsNaN(v) {
				return nil, 0, fmt.Errorf("nab: %s: NaN score", s.Name)
			}
		}
		rows = sweepRows(s, scores[i], costs, w, rows)
		w += len(s.Windows)
	}
	return rows, w, nil
}

// best is the highest-scoring threshold; among equals, the highest
// threshold (the first in sweep order), as NAB's stable sort picks.
func best(ts []Threshold) Threshold {
	b := ts[0]
	for _, t := range ts[1:] {
		if t.Score > b.Score {
			b = t
		}
	}
	return b
}

// scoreAt is NAB's Sweeper.scoreDataSet choice of row for a given
// threshold: the row of that threshold, or else the last one above it.
func scoreAt(ts []Threshold, threshold float64) (Threshold, bool) {
	var prev Threshold
	havePrev := false
	for _, t := range ts {
		if t.Threshold == threshold {
			return t, true
		}
		if t.Threshold < threshold {
			return prev, havePrev
		}
		prev, havePrev = t, true
	}
	return Threshold{}, false
}

// SeriesOutcome is what a threshold yields on one series (for diagnosis).
type SeriesOutcome struct {
	Name                 string
	Windows, Detected    int
	FalsePositives       int
	Score                float64
	FirstDetectionOffset []int // per window: records after its start, -1 if missed
}

// Diagnose reports per series what the detector does at threshold.
func (c *Corpus) Diagnose(scores [][]float64, p Profile, threshold float64) ([]SeriesOutcome, error) {
	var out []SeriesOutcome
	w := 0
	for i := range c.Series {
		s := &c.Series[i]
		if len(scores[i]) != len(s.Values) {
			return nil, fmt.Errorf("nab: %s: %d scores for %d records", s.Name, len(scores[i]), len(s.Values))
		}
		rows := sweepRows(s, scores[i], p.Costs, w, nil)
		o := SeriesOutcome{Name: s.Name, Windows: len(s.Windows)}
		first := make([]int, len(s.Windows))
		starts := make([]int, len(s.Windows))
		for k := range first {
			first[k] = -1
			starts[k] = slices.IndexFunc(s.Timestamps, s.Windows[k].Start.Equal)
		}
		best := make([]float64, len(s.Windows))
		for k := range best {
			best[k] = -p.Costs.FN
		}
		for j, r := range rows {
			if r.window == probationary || r.score < threshold {
				continue
			}
			if r.window == noWindow {
				o.FalsePositives++
				o.Score += r.sweep
				continue
			}
			k := r.window - w
			if first[k] < 0 {
				first[k] = j - starts[k]
				o.Detected++
			}
			best[k] = math.Max(best[k], r.sweep)
		}
		for _, b := range best {
			o.Score += b
		}
		o.FirstDetectionOffset = first
		out = append(out, o)
		w += len(s.Windows)
	}
	return out, nil
}
