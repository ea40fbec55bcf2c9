package anomaly

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestForestConfigValidate(t *testing.T) {
	ok := ForestConfig{Dimensions: 3}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	bad := []ForestConfig{
		{Dimensions: 0},
		{Dimensions: 31},
		{Dimensions: 1, NumberOfTrees: 1001},
		{Dimensions: 1, NumberOfTrees: -1},
		{Dimensions: 1, SampleSize: 9},
		{Dimensions: 1, SampleSize: 1001},
		{Dimensions: 1, SampleSize: 256, TimeDecay: 256},
		{Dimensions: 1, TimeDecay: math.NaN()},
		{Dimensions: 1, TimeDecay: math.Inf(1)},
		{Dimensions: 1, ShingleSize: 31},
		{Dimensions: 1, OutputAfter: 257},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
		if _, err := NewForest(c); err == nil {
			t.Errorf("NewForest(%+v) accepted", c)
		}
	}
}

// The score is 0 until OutputAfter points are in (SampleSize/4 by default,
// AWS's rule), and positive from then on.
func TestScoreZeroDuringWarmUp(t *testing.T) {
	for _, shingle := range []int{1, 4} {
		f := mustForest(t, ForestConfig{Dimensions: 2, ShingleSize: shingle, Seed: 7})
		data := gaussian(200, 2, 1)
		warm := shingle - 1 + 64 // records before the first reported score
		for i, rec := range data {
			s := mustProcess(t, f, rec, nil)
			if i < warm && s != 0 {
				t.Fatalf("shingle %d: record %d scored %v during warm-up", shingle, i, s)
			}
			if i >= warm && !(s > 0) {
				t.Fatalf("shingle %d: record %d scored %v after warm-up", shingle, i, s)
			}
		}
	}
}

// A spike scores far above ordinary points (AWS's scale puts ordinary
// points near 1).
func TestSpikeScoresFarAboveNormal(t *testing.T) {
	for _, dims := range []int{1, 3, 10} {
		f := mustForest(t, ForestConfig{Dimensions: dims, Seed: 11})
		data := gaussian(3000, dims, 2)
		var normal []float64
		for i, rec := range data {
			s := mustProcess(t, f, rec, nil)
			if i >= 1000 {
				normal = append(normal, s)
			}
		}
		spike := make([]float64, dims)
		for j := range spike {
			spike[j] = 0.5
		}
		spike[dims/2] = 12
		s := mustProcess(t, f, spike, nil)
		mean, maxN := 0.0, 0.0
		for _, v := range normal {
			mean += v
			maxN = max(maxN, v)
		}
		mean /= float64(len(normal))
		t.Logf("dims %d: normal mean %.3f max %.3f, spike %.3f", dims, mean, maxN, s)
		if mean < 0.5 || mean > 1.5 {
			t.Errorf("dims %d: ordinary points average %.3f, want about 1", dims, mean)
		}
		if s < 2.5*mean || s <= maxN {
			t.Errorf("dims %d: spike scored %.3f, ordinary mean %.3f max %.3f", dims, s, mean, maxN)
		}
	}
}

// Attributions sum to the score, and the spiking dimension and direction
// carry it.
func TestAttributionSumsAndDirection(t *testing.T) {
	const dims = 4
	f := mustForest(t, ForestConfig{Dimensions: dims, Seed: 5})
	var attr Attribution
	for i, rec := range gaussian(2000, dims, 3) {
		s := mustProcess(t, f, rec, &attr)
		sum := 0.0
		for j := 0; j < dims; j++ {
			if attr.High[j] < 0 || attr.Low[j] < 0 {
				t.Fatalf("record %d: negative attribution %v %v", i, attr.High, attr.Low)
			}
			sum += attr.High[j] + attr.Low[j]
		}
		if math.Abs(sum-s) > 1e-9*max(1, s) {
			t.Fatalf("record %d: attributions sum to %v, score %v", i, sum, s)
		}
	}
	for _, tc := range []struct {
		dim  int
		v    float64
		high bool
	}{{1, 9, true}, {3, -9, false}} {
		rec := make([]float64, dims)
		rec[tc.dim] = tc.v
		s := mustProcess(t, f, rec, &attr)
		part := attr.High[tc.dim]
		other := attr.Low[tc.dim]
		if !tc.high {
			part, other = other, part
		}
		if part < 0.8*s || other > 0.05*s {
			t.Errorf("spike %v in dimension %d (score %.3f): high %v low %v", tc.v, tc.dim, s, attr.High, attr.Low)
		}
	}
}

// Scoring with and without explanation gives the same ANOMALY_SCORE bit for
// bit, and the lockstep group scoring equals per-tree scoring.
func TestScoreIndependentOfExplanationAndGrouping(t *testing.T) {
	a := mustForest(t, ForestConfig{Dimensions: 3, NumberOfTrees: 37, Seed: 9})
	b := mustForest(t, ForestConfig{Dimensions: 3, NumberOfTrees: 37, Seed: 9})
	var attr Attribution
	data := mixture(1500, 3, 4)
	data = append(data, data[100:300]...) // duplicates of sampled points
	sc := newScratch(3, DefaultSampleSize)
	for i, rec := range data {
		perTree := 0.0
		check := i%50 == 0 && a.Ready()
		if check {
			h := hashPoint(rec)
			for _, tr := range a.trees {
				perTree += tr.score(rec, h, sc)
			}
		}
		sa := mustProcess(t, a, rec, nil)
		sb := mustProcess(t, b, rec, &attr)
		if sa != sb {
			t.Fatalf("record %d: score %v without explanation, %v with", i, sa, sb)
		}
		if check && sa != perTree/float64(len(a.trees)) {
			t.Fatalf("record %d: grouped %v, per tree %v", i, sa, perTree/float64(len(a.trees)))
		}
	}
}

// Hand-computed scores on a two-point tree, following AWS's visitor.
func TestTreeScoreByHand(t *testing.T) {
	st := newPointStore(1)
	tr := newTree(1, 16, 1, st)
	sc := newScratch(1, 16)
	for _, v := range []float64{0, 1} {
		p := []float64{v}
		h := hashPoint(p)
		ref := st.add(p, h)
		st.retain(tr.insert(ref, p, h, sc))
	}
	if err := tr.checkTree(); err != nil {
		t.Fatal(err)
	}
	log3 := math.Log(3) / math.Log(2)
	// q = 3 reaches leaf 1 at depth 1: 1/(1+1); the root box [0,1] grown to
	// [0,3] separates q with probability 2/3, contributing 1/(0+1).
	q := []float64{3}
	want := (2.0/3*1 + 1.0/3*0.5) * log3
	if got := tr.score(q, hashPoint(q), sc); math.Abs(got-want) > 1e-15 {
		t.Errorf("score(3) = %v, want %v", got, want)
	}
	// q = 1 is the leaf's point: damp(1,2)*scoreSeen(1,1) = 0.75 * 1/(1+1).
	q = []float64{1}
	want = 0.75 * 0.5 * log3
	if got := tr.score(q, hashPoint(q), sc); math.Abs(got-want) > 1e-15 {
		t.Errorf("score(1) = %v, want %v", got, want)
	}
	// q = 0.5 lies inside the root box: only the leaf counts, 1/(1+1).
	q = []float64{0.5}
	want = 0.5 * log3
	if got := tr.score(q, hashPoint(q), sc); math.Abs(got-want) > 1e-15 {
		t.Errorf("score(0.5) = %v, want %v", got, want)
	}
	// Attribution of q = 3: all of it "high" in the only dimension.
	q = []float64{3}
	s := tr.attribution(q, hashPoint(q), sc)
	if math.Abs(sc.high[0]-s) > 1e-12 || sc.low[0] != 0 {
		t.Errorf("attribution(3): high %v low %v score %v", sc.high[0], sc.low[0], s)
	}
}

// Random inserts and deletes, with many duplicates and a fast time decay
// (so the samplers rebase their priorities many times), keep every tree
// and sampler invariant.
func TestForestInvariants(t *testing.T) {
	cfgs := []ForestConfig{
		{Dimensions: 2, NumberOfTrees: 7, SampleSize: 16, TimeDecay: 17, Seed: 1},
		{Dimensions: 1, NumberOfTrees: 5, SampleSize: 10, TimeDecay: 11, ShingleSize: 3, Seed: 2},
		{Dimensions: 3, NumberOfTrees: 4, SampleSize: 64, TimeDecay: 1000, Seed: 3},
	}
	for ci, cfg := range cfgs {
		f := mustForest(t, cfg)
		r := splitMix64{state: uint64(ci)}
		for i := 0; i < 3000; i++ {
			rec := make([]float64, cfg.Dimensions)
			for j := range rec {
				rec[j] = float64(int(r.float64() * 4)) // few distinct values: duplicates
				if r.float64() < 0.3 {
					rec[j] += r.float64()
				}
			}
			mustProcess(t, f, rec, nil)
			if i%101 == 0 {
				if err := f.checkForest(); err != nil {
					t.Fatalf("config %d after %d records: %v", ci, i, err)
				}
			}
		}
		if f.base == 0 && cfg.TimeDecay < 100 {
			t.Errorf("config %d: samplers never rebased", ci)
		}
	}
}

func TestBadRecordLeavesModelUntouched(t *testing.T) {
	f := mustForest(t, ForestConfig{Dimensions: 2, ShingleSize: 2, Seed: 1})
	for _, rec := range gaussian(300, 2, 1) {
		mustProcess(t, f, rec, nil)
	}
	before, _ := f.MarshalBinary()
	for _, rec := range [][]float64{
		{math.NaN(), 1}, {1, math.Inf(1)}, {math.Inf(-1), 0}, {1}, {1, 2, 3}, nil,
	} {
		if _, err := f.Process(rec, nil); !errors.Is(err, ErrBadRecord) {
			t.Errorf("Process(%v) = %v, want ErrBadRecord", rec, err)
		}
	}
	after, _ := f.MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Fatal("a refused record changed the model")
	}
}

// Restoring a snapshot and continuing gives exactly the scores of an
// uninterrupted run, for snapshots taken at any point (warm-up, shingle
// filling, steady state, after rebases).
func TestSnapshotRestoreContinuesIdentically(t *testing.T) {
	cfgs := []ForestConfig{
		{Dimensions: 1, Seed: 42},
		{Dimensions: 3, NumberOfTrees: 20, SampleSize: 32, TimeDecay: 40, ShingleSize: 4, Seed: 7},
	}
	for ci, cfg := range cfgs {
		data := mixture(1500, cfg.Dimensions, uint64(ci)+10)
		ref := mustForest(t, cfg)
		var refScores []float64
		var refAttr []Attribution
		for _, rec := range data {
			var a Attribution
			refScores = append(refScores, mustProcess(t, ref, rec, &a))
			refAttr = append(refAttr, a)
		}
		for _, cut := range []int{0, 2, 40, 300, 1100} {
			f := mustForest(t, cfg)
			for _, rec := range data[:cut] {
				mustProcess(t, f, rec, nil)
			}
			snap, err := f.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			g := &Forest{}
			if err := g.UnmarshalBinary(snap); err != nil {
				t.Fatalf("config %d cut %d: %v", ci, cut, err)
			}
			again, _ := g.MarshalBinary()
			if !bytes.Equal(snap, again) {
				t.Fatalf("config %d cut %d: snapshot of the restored forest differs", ci, cut)
			}
			for i := cut; i < len(data); i++ {
				var a Attribution
				s := mustProcess(t, g, data[i], &a)
				if s != refScores[i] {
					t.Fatalf("config %d cut %d record %d: restored %v, uninterrupted %v", ci, cut, i, s, refScores[i])
				}
				for j := range a.High {
					if a.High[j] != refAttr[i].High[j] || a.Low[j] != refAttr[i].Low[j] {
						t.Fatalf("config %d cut %d record %d: attribution differs", ci, cut, i)
					}
				}
			}
		}
	}
}

func TestForestUnmarshalRejectsCorruption(t *testing.T) {
	f := mustForest(t, ForestConfig{Dimensions: 2, NumberOfTrees: 3, SampleSize: 16, TimeDecay: 100, Seed: 1})
	for _, rec := range gaussian(200, 2, 3) {
		mustProcess(t, f, rec, nil)
	}
	snap, _ := f.MarshalBinary()
	good := &Forest{}
	if err := good.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	// Truncations and single-byte corruptions must be refused or restore a
	// valid forest; never panic.
	r := splitMix64{state: 99}
	for i := 0; i < 400; i++ {
		b := append([]byte(nil), snap...)
		if i%4 == 0 {
			b = b[:int(r.next()%uint64(len(b)))]
		} else {
			for k := 0; k < 1+i%3; k++ {
				b[r.next()%uint64(len(b))] ^= byte(1 << (r.next() % 8))
			}
		}
		g := mustForest(t, ForestConfig{Dimensions: 1})
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			return g.UnmarshalBinary(b)
		}()
		switch {
		case err == nil:
			if cerr := g.checkForest(); cerr != nil {
				t.Fatalf("corruption %d accepted an invalid forest: %v", i, cerr)
			}
		case !errors.Is(err, ErrCorruptSnapshot):
			t.Fatalf("corruption %d: %v", i, err)
		}
		if err != nil && g.cfg.Dimensions != 1 {
			t.Fatalf("corruption %d: refused snapshot changed the receiver", i)
		}
	}
	if err := good.UnmarshalBinary(append([]byte("XXXX"), snap[4:]...)); !errors.Is(err, ErrCorruptSnapshot) {
		t.Errorf("bad magic: %v", err)
	}
	v3 := append([]byte(nil), snap...)
	v3[4] = 3
	if err := good.UnmarshalBinary(v3); !errors.Is(err, ErrCorruptSnapshot) {
		t.Errorf("unknown version: %v", err)
	}
}

// Same seed, same scores; different seeds, different forests.
func TestSeedDeterminism(t *testing.T) {
	data := gaussian(500, 2, 8)
	run := func(seed uint64) []float64 {
		f := mustForest(t, ForestConfig{Dimensions: 2, NumberOfTrees: 10, Seed: seed})
		var out []float64
		for _, rec := range data {
			out = append(out, mustProcess(t, f, rec, nil))
		}
		return out
	}
	a, b, c := run(1), run(1), run(2)
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("record %d: %v vs %v with the same seed", i, a[i], b[i])
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("different seeds gave identical scores")
	}
}
