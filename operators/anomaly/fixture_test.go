package anomaly

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// goldenLines reads a .golden file of testdata/snapshots: one record per
// line, fields separated by spaces, '#' lines skipped.
func goldenLines(t *testing.T, name string) [][]string {
	t.Helper()
	b, err := os.ReadFile("testdata/snapshots/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Fields(line))
		}
	}
	return out
}

func hexFloat(t *testing.T, s string) float64 {
	t.Helper()
	u, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return math.Float64frombits(u)
}

// Forest snapshots written by the format 1 code restore and continue
// exactly as that code continued them, record by record and in batches;
// re-encoded, they are format 2 and restore to the same forest.
func TestRestoreV1ForestFixtures(t *testing.T) {
	for _, name := range []string{"forest-v1-dups-rebase", "forest-v1-shingle"} {
		snap, err := os.ReadFile("testdata/snapshots/" + name + ".bin")
		if err != nil {
			t.Fatal(err)
		}
		lines := goldenLines(t, name+".golden")
		for _, batched := range []bool{false, true} {
			f := &Forest{}
			if err := f.UnmarshalBinary(snap); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			v2, _ := f.MarshalBinary()
			if len(v2) >= len(snap) {
				t.Errorf("%s: format 2 takes %d bytes, format 1 %d", name, len(v2), len(snap))
			}
			g := &Forest{}
			if err := g.UnmarshalBinary(v2); err != nil {
				t.Fatalf("%s: re-encoded: %v", name, err)
			}
			if again, _ := g.MarshalBinary(); !bytes.Equal(again, v2) {
				t.Fatalf("%s: format 2 snapshot does not round-trip", name)
			}
			dims := f.cfg.Dimensions
			recs := make([][]float64, len(lines))
			for i, fs := range lines {
				for _, s := range fs[:dims] {
					recs[i] = append(recs[i], hexFloat(t, s))
				}
			}
			scores := make([]float64, len(recs))
			attrs := make([]Attribution, len(recs))
			if batched {
				for i := 0; i < len(recs); i += 97 {
					e := min(i+97, len(recs))
					if err := g.ProcessBatch(recs[i:e], scores[i:e], attrs[i:e]); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				for i := range recs {
					scores[i] = mustProcess(t, g, recs[i], &attrs[i])
				}
			}
			for i, fs := range lines {
				if want := hexFloat(t, fs[dims+1]); scores[i] != want {
					t.Fatalf("%s batched=%v record %d: score %v, format 1 code %v", name, batched, i, scores[i], want)
				}
				parts := fs[dims+3:]
				for j := 0; j < dims; j++ {
					if attrs[i].High[j] != hexFloat(t, parts[2*j]) || attrs[i].Low[j] != hexFloat(t, parts[2*j+1]) {
						t.Fatalf("%s batched=%v record %d: attribution of dimension %d differs from the format 1 code", name, batched, i, j)
					}
				}
			}
		}
	}
}

// An operator snapshot of the format 1 code (as keyed state holds it)
// restores into a planned operator and continues exactly as that code did:
// scores, explanations and probabilities.
func TestRestoreV1OperatorFixture(t *testing.T) {
	snap, err := os.ReadFile("testdata/snapshots/rcf-operator-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	p := RCFParams{NumberOfTrees: 12, SubSampleSize: 48, TimeDecay: 2000, ShingleSize: 2, WithDirectionality: true, Probability: true, Seed: 5}
	r, err := NewRandomCutForestWithExplanation(sensorSchema, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	for i, fs := range goldenLines(t, "rcf-operator-v1.golden") {
		load, err := strconv.ParseInt(fs[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.Process(sensorRow("d1", hexFloat(t, fs[0]), load))
		if err != nil {
			t.Fatal(err)
		}
		if out[4] != hexFloat(t, fs[2]) || out[6] != hexFloat(t, fs[3]) || out[5] != strings.Join(fs[4:], " ") {
			t.Fatalf("row %d: got %v %v %v, format 1 code %v %v %v", i, out[4], out[6], out[5], hexFloat(t, fs[2]), hexFloat(t, fs[3]), strings.Join(fs[4:], " "))
		}
	}
}
