package anomaly

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func newTestCalibrator(t *testing.T, cfg CalibratorConfig) *Calibrator {
	t.Helper()
	if cfg.MaxScore == 0 {
		cfg.MaxScore = log2(257)
	}
	if cfg.Horizon == 0 {
		cfg.Horizon = 100000
	}
	c, err := NewCalibrator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCalibratorValidate(t *testing.T) {
	for _, cfg := range []CalibratorConfig{
		{MaxScore: 0, Horizon: 10},
		{MaxScore: 8, Horizon: 0.5},
		{MaxScore: 8, Horizon: math.Inf(1)},
		{MaxScore: 8, Horizon: 10, MinHistory: -1},
		{MaxScore: 8, Horizon: 10, OnsetWindow: 1 << 17},
		{MaxScore: 8, Horizon: 10, PriorWeight: -1},
	} {
		if _, err := NewCalibrator(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// Scores of a quiet stream with one burst: zero until MinHistory scores are
// in, in [0,1) always, and only the burst's onset gets a high probability.
func TestCalibratorOnsetAndRange(t *testing.T) {
	c := newTestCalibrator(t, CalibratorConfig{MinHistory: 50, OnsetWindow: 20})
	r := splitMix64{state: 1}
	var ps []float64
	for i := 0; i < 2000; i++ {
		s := 0.0
		if i >= 10 { // the forest's warm-up: zeros
			s = 0.8 + 0.3*r.float64()
		}
		if i >= 1500 && i < 1505 {
			s = 4.5 - 0.1*float64(i-1500) // a burst whose first record is its peak
		}
		p := c.Update(s)
		if p < 0 || p >= 1 || math.IsNaN(p) {
			t.Fatalf("record %d: probability %v", i, p)
		}
		if i < 60 && p != 0 {
			t.Fatalf("record %d: probability %v before MinHistory", i, p)
		}
		ps = append(ps, p)
	}
	if ps[1500] < 0.999 {
		t.Errorf("burst onset: probability %v", ps[1500])
	}
	for i := 1501; i < 1505; i++ {
		if ps[i] != 0 {
			t.Errorf("record %d inside the burst: probability %v, want 0 (not an onset)", i, ps[i])
		}
	}
	high := 0
	for i := 100; i < 1500; i++ {
		if ps[i] > ps[1500] {
			t.Errorf("ordinary record %d: probability %v above the burst's %v", i, ps[i], ps[1500])
		}
		if ps[i] > 0.999 {
			high++
		}
	}
	if high > 14 { // about 1% of ordinary records may be new highs
		t.Errorf("%d ordinary records above 0.999", high)
	}
}

// A score this stream produces often is less surprising than the same
// score in a stream where it is rare.
func TestCalibratorLearnsTheStream(t *testing.T) {
	quiet := newTestCalibrator(t, CalibratorConfig{OnsetWindow: 1})
	noisy := newTestCalibrator(t, CalibratorConfig{OnsetWindow: 1})
	r := splitMix64{state: 2}
	for i := 0; i < 3000; i++ {
		quiet.Update(1 + 0.1*r.float64())
		s := 1 + 0.1*r.float64()
		if i%10 == 0 {
			s = 3 + r.float64()
		}
		noisy.Update(s)
	}
	pq, pn := quiet.Update(3.5), noisy.Update(3.5)
	if !(pq > pn) {
		t.Errorf("score 3.5: quiet stream %v, noisy stream %v", pq, pn)
	}
}

func TestCalibratorSnapshot(t *testing.T) {
	a := newTestCalibrator(t, CalibratorConfig{Horizon: 50, OnsetWindow: 7})
	r := splitMix64{state: 3}
	scores := make([]float64, 3000)
	for i := range scores {
		scores[i] = r.float64() * 5
	}
	for _, s := range scores[:1000] {
		a.Update(s)
	}
	snap, _ := a.MarshalBinary()
	var b Calibrator
	if err := b.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	again, _ := b.MarshalBinary()
	if !bytes.Equal(snap, again) {
		t.Fatal("snapshot of the restored calibrator differs")
	}
	for i, s := range scores[1000:] {
		if pa, pb := a.Update(s), b.Update(s); pa != pb {
			t.Fatalf("record %d: %v vs %v after restore", i, pa, pb)
		}
	}
	if err := b.UnmarshalBinary(snap[:len(snap)-1]); !errors.Is(err, ErrCorruptSnapshot) {
		t.Errorf("truncated: %v", err)
	}
}
