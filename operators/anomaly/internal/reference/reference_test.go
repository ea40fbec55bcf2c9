package reference

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The reference is the format 1 code: it restores the fixtures that code
// wrote and continues them exactly as the code did (the .golden files).
func TestReferenceIsTheFormat1Code(t *testing.T) {
	for _, name := range []string{"forest-v1-dups-rebase", "forest-v1-shingle"} {
		snap, err := os.ReadFile("../../testdata/snapshots/" + name + ".bin")
		if err != nil {
			t.Fatal(err)
		}
		f := &Forest{}
		if err := f.UnmarshalBinary(snap); err != nil {
			t.Fatal(err)
		}
		again, _ := f.MarshalBinary()
		if string(again) != string(snap) {
			t.Fatalf("%s: the reference re-encodes the fixture differently", name)
		}
		gf, err := os.Open("../../testdata/snapshots/" + name + ".golden")
		if err != nil {
			t.Fatal(err)
		}
		defer gf.Close()
		sc := bufio.NewScanner(gf)
		hex := func(s string) float64 {
			u, err := strconv.ParseUint(s, 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return math.Float64frombits(u)
		}
		dims := f.cfg.Dimensions
		for i := 0; sc.Scan(); {
			fs := strings.Fields(sc.Text())
			if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
				continue
			}
			rec := make([]float64, dims)
			for j := range rec {
				rec[j] = hex(fs[j])
			}
			var a Attribution
			s, err := f.Process(rec, &a)
			if err != nil {
				t.Fatal(err)
			}
			if s != hex(fs[dims+1]) {
				t.Fatalf("%s record %d: score %v, want %v", name, i, s, hex(fs[dims+1]))
			}
			for j := 0; j < dims; j++ {
				if a.High[j] != hex(fs[dims+3+2*j]) || a.Low[j] != hex(fs[dims+4+2*j]) {
					t.Fatalf("%s record %d: attribution differs", name, i)
				}
			}
			i++
		}
	}
}
