package anomaly

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

func hexf(v float64) string { return fmt.Sprintf("%016x", math.Float64bits(v)) }

// TestWriteV1Fixtures wrote testdata/snapshots with the version 1 code;
// it is kept in history only (see testdata/snapshots/README.md).
func TestWriteV1Fixtures(t *testing.T) {
	if os.Getenv("SLUICE_WRITE_V1_FIXTURES") == "" {
		t.Skip("set SLUICE_WRITE_V1_FIXTURES=1 to rewrite the fixtures")
	}
	type fx struct {
		name     string
		cfg      ForestConfig
		n, cont  int
		seed     uint64
		integral bool
	}
	for _, c := range []fx{
		{"forest-v1-dups-rebase", ForestConfig{Dimensions: 1, NumberOfTrees: 20, SampleSize: 64, TimeDecay: 100, Seed: 11}, 7000, 400, 21, true},
		{"forest-v1-shingle", ForestConfig{Dimensions: 3, NumberOfTrees: 10, SampleSize: 32, TimeDecay: 1000, ShingleSize: 4, Seed: 7}, 1500, 400, 22, false},
	} {
		data := mixture(c.n+c.cont, c.cfg.Dimensions, c.seed)
		if c.integral {
			for _, r := range data {
				for j := range r {
					r[j] = math.Round(r[j] * 2)
				}
			}
		}
		f := mustForest(t, c.cfg)
		for _, rec := range data[:c.n] {
			mustProcess(t, f, rec, nil)
		}
		snap, _ := f.MarshalBinary()
		if err := os.WriteFile("testdata/snapshots/"+c.name+".bin", snap, 0o644); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# %s: the %d records after the snapshot, each: input values, then score, then per dimension attribution high and low (float64 bits in hex), as the v1 code produced them\n", c.name, c.cont)
		for _, rec := range data[c.n:] {
			var a Attribution
			s := mustProcess(t, f, rec, &a)
			var parts []string
			for _, v := range rec {
				parts = append(parts, hexf(v))
			}
			parts = append(parts, "|", hexf(s), "|")
			for j := range a.High {
				parts = append(parts, hexf(a.High[j]), hexf(a.Low[j]))
			}
			b.WriteString(strings.Join(parts, " ") + "\n")
		}
		if err := os.WriteFile("testdata/snapshots/"+c.name+".golden", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// An operator (RANDOM_CUT_FOREST_WITH_EXPLANATION with probability) as
	// keyed state holds it.
	p := RCFParams{NumberOfTrees: 12, SubSampleSize: 48, TimeDecay: 2000, ShingleSize: 2, WithDirectionality: true, Probability: true, Seed: 5}
	r, err := NewRandomCutForestWithExplanation(sensorSchema, p)
	if err != nil {
		t.Fatal(err)
	}
	data := mixture(1800, 2, 23)
	row := func(i int) Row { return sensorRow("d1", data[i][0], int64(math.Round(data[i][1]*3))) }
	for i := 0; i < 1500; i++ {
		if _, err := r.Process(row(i)); err != nil {
			t.Fatal(err)
		}
	}
	snap, _ := r.MarshalBinary()
	os.WriteFile("testdata/snapshots/rcf-operator-v1.bin", snap, 0o644)
	var b strings.Builder
	fmt.Fprintf(&b, "# rcf-operator-v1: the 300 rows after the snapshot: temp bits, load, then ANOMALY_SCORE bits, ANOMALY_PROBABILITY bits, ANOMALY_EXPLANATION\n")
	for i := 1500; i < 1800; i++ {
		in := row(i)
		out, err := r.Process(in)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %s %s %s\n", hexf(in[1].(float64)), in[2].(int64), hexf(out[4].(float64)), hexf(out[6].(float64)), out[5].(string))
	}
	os.WriteFile("testdata/snapshots/rcf-operator-v1.golden", []byte(b.String()), 0o644)
}

