package anomaly

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestHotspotsParams(t *testing.T) {
	good := HotspotsParams{WindowSize: 1000, ScanRadius: 0.2, MinimumNumberOfPointsInAHotspot: 17}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []HotspotsParams{
		{WindowSize: 99, ScanRadius: 1, MinimumNumberOfPointsInAHotspot: 2},
		{WindowSize: 1001, ScanRadius: 1, MinimumNumberOfPointsInAHotspot: 2},
		{WindowSize: 100, ScanRadius: 0, MinimumNumberOfPointsInAHotspot: 2},
		{WindowSize: 100, ScanRadius: math.NaN(), MinimumNumberOfPointsInAHotspot: 2},
		{WindowSize: 100, ScanRadius: 1, MinimumNumberOfPointsInAHotspot: 1},
		{WindowSize: 100, ScanRadius: 1, MinimumNumberOfPointsInAHotspot: 101},
	} {
		if _, err := NewHotspots(Schema{{"x", TypeDouble}}, p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	p, err := HotspotsParamsFromArgs([]any{1000, 0.2, 17})
	if err != nil || p != good {
		t.Errorf("from args: %+v, %v", p, err)
	}
	if _, err := HotspotsParamsFromArgs([]any{1000, "0.2", 17}); err == nil {
		t.Error("string radius accepted")
	}
}

// Two planted clusters in uniform background noise, as in KDA's example
// (window 1000, radius 0.2, 17 points): both are found, with the right
// bounds, and nothing else.
func TestHotspotsFindsPlantedClusters(t *testing.T) {
	schema := Schema{{"x", TypeDouble}, {"y", TypeDouble}, {"is_hot", TypeVarchar}}
	h, err := NewHotspots(schema, HotspotsParams{WindowSize: 1000, ScanRadius: 0.2, MinimumNumberOfPointsInAHotspot: 17})
	if err != nil {
		t.Fatal(err)
	}
	type box struct{ x0, x1, y0, y1 float64 }
	clusters := []box{{2, 2.3, 2, 2.3}, {7, 7.2, 8, 8.4}}
	r := splitMix64{state: 5}
	var last string
	for i := 0; i < 3000; i++ {
		x, y, hot := 10*r.float64(), 10*r.float64(), "N"
		if k := i % 10; k < 2 { // 10% of records in each cluster
			c := clusters[k]
			x, y, hot = c.x0+(c.x1-c.x0)*r.float64(), c.y0+(c.y1-c.y0)*r.float64(), "Y"
		}
		row, err := h.Process(Row{x, y, hot})
		if err != nil {
			t.Fatal(err)
		}
		last = row[3].(string)
	}
	var res struct {
		Hotspots []struct {
			Density   float64
			MinValues []float64
			MaxValues []float64
		}
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("%s: %v", last, err)
	}
	if len(res.Hotspots) != 2 {
		t.Fatalf("%d hotspots: %s", len(res.Hotspots), last)
	}
	const rad = 0.2
	for _, c := range clusters {
		found := false
		for _, hs := range res.Hotspots {
			if hs.MinValues[0] < c.x0-rad || hs.MaxValues[0] > c.x1+rad ||
				hs.MinValues[1] < c.y0-rad || hs.MaxValues[1] > c.y1+rad {
				continue
			}
			// The cluster's own extent (100 points in a small box) is
			// covered nearly to its corners.
			if hs.MinValues[0] > c.x0+0.05 || hs.MaxValues[0] < c.x1-0.05 ||
				hs.MinValues[1] > c.y0+0.05 || hs.MaxValues[1] < c.y1-0.05 {
				t.Errorf("cluster %+v found with bounds %v..%v", c, hs.MinValues, hs.MaxValues)
			}
			// 10% of the window in about 0.25% of its area (bounds widened
			// by the radius): some 25-40 times denser than the window.
			if hs.Density < 15 {
				t.Errorf("cluster %+v density %v", c, hs.Density)
			}
			found = true
		}
		if !found {
			t.Errorf("cluster %+v not found in %s", c, last)
		}
	}
	if res.Hotspots[0].Density < res.Hotspots[1].Density {
		t.Error("hotspots not densest first")
	}
}

func TestHotspotsNoiseHasNoHotspot(t *testing.T) {
	h, err := NewHotspotDetector(2, HotspotsParams{WindowSize: 500, ScanRadius: 0.2, MinimumNumberOfPointsInAHotspot: 17})
	if err != nil {
		t.Fatal(err)
	}
	r := splitMix64{state: 6}
	for i := 0; i < 1500; i++ {
		hs, err := h.Add([]float64{10 * r.float64(), 10 * r.float64()})
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 0 {
			t.Fatalf("record %d: hotspots in uniform noise: %+v", i, hs)
		}
	}
}

// naiveHotspots clusters a window from scratch (quadratic), as the
// incremental detector's reference.
func naiveHotspots(pts [][]float64, p HotspotsParams) []Hotspot {
	n := len(pts)
	near := func(a, b int) bool {
		s := 0.0
		for i := range pts[a] {
			d := pts[a][i] - pts[b][i]
			s += d * d
		}
		return s <= p.ScanRadius*p.ScanRadius
	}
	core := make([]bool, n)
	for i := range pts {
		c := 0
		for j := range pts {
			if near(i, j) {
				c++
			}
		}
		core[i] = c >= p.MinimumNumberOfPointsInAHotspot
	}
	comp := make([]int, n)
	for i := range comp {
		comp[i] = -1
	}
	nc := 0
	for i := range pts {
		if !core[i] || comp[i] >= 0 {
			continue
		}
		stack := []int{i}
		comp[i] = nc
		for len(stack) > 0 {
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for j := range pts {
				if core[j] && comp[j] < 0 && near(c, j) && c != j {
					comp[j] = nc
					stack = append(stack, j)
				}
			}
		}
		nc++
	}
	det, _ := NewHotspotDetector(len(pts[0]), p)
	out := make([]Hotspot, nc)
	var lo, hi []float64
	for i, pt := range pts {
		c := comp[i]
		if c < 0 {
			for j := range pts { // oldest core neighbour
				if core[j] && near(i, j) {
					c = comp[j]
					break
				}
			}
		}
		if i == 0 {
			lo, hi = slices.Clone(pt), slices.Clone(pt)
		}
		for d, v := range pt {
			lo[d], hi[d] = min(lo[d], v), max(hi[d], v)
		}
		if c < 0 {
			continue
		}
		hs := &out[c]
		if hs.Points == 0 {
			hs.MinValues, hs.MaxValues = slices.Clone(pt), slices.Clone(pt)
		}
		for d, v := range pt {
			hs.MinValues[d], hs.MaxValues[d] = min(hs.MinValues[d], v), max(hs.MaxValues[d], v)
		}
		hs.Points++
	}
	for i := range out {
		ext := 1.0
		for d := range lo {
			ext *= (out[i].MaxValues[d] - out[i].MinValues[d] + p.ScanRadius) / (hi[d] - lo[d] + p.ScanRadius)
		}
		out[i].Density = float64(out[i].Points) / float64(n) / ext
	}
	slices.SortStableFunc(out, func(a, b Hotspot) int {
		switch {
		case a.Density > b.Density:
			return -1
		case a.Density < b.Density:
			return 1
		}
		return 0
	})
	_ = det
	return out
}

// The incremental detector agrees with clustering from scratch at every
// step, through evictions, and continues identically after a restore.
func TestHotspotsMatchesReferenceAndRestores(t *testing.T) {
	p := HotspotsParams{WindowSize: 100, ScanRadius: 0.6, MinimumNumberOfPointsInAHotspot: 5}
	h, err := NewHotspotDetector(3, p)
	if err != nil {
		t.Fatal(err)
	}
	r := splitMix64{state: 7}
	var window [][]float64
	var restored *HotspotDetector
	for i := 0; i < 600; i++ {
		pt := []float64{float64(int(r.float64()*4)) + r.float64()*0.5, r.float64() * 3, float64(int(r.float64() * 2))}
		got, err := h.Add(pt)
		if err != nil {
			t.Fatal(err)
		}
		window = append(window, pt)
		if len(window) > p.WindowSize {
			window = window[1:]
		}
		want := naiveHotspots(window, p)
		if len(got) != len(want) {
			t.Fatalf("record %d: %d hotspots, reference %d", i, len(got), len(want))
		}
		for k := range got {
			if got[k].Points != want[k].Points || !reflect.DeepEqual(got[k].MinValues, want[k].MinValues) ||
				!reflect.DeepEqual(got[k].MaxValues, want[k].MaxValues) || math.Abs(got[k].Density-want[k].Density) > 1e-12*want[k].Density {
				t.Fatalf("record %d hotspot %d: %+v, reference %+v", i, k, got[k], want[k])
			}
		}
		if restored != nil {
			again, _ := restored.Add(pt)
			if HotspotsJSON(again) != HotspotsJSON(got) {
				t.Fatalf("record %d: restored detector gives %s, original %s", i, HotspotsJSON(again), HotspotsJSON(got))
			}
		}
		if i == 250 {
			snap, _ := h.MarshalBinary()
			restored = &HotspotDetector{}
			if err := restored.UnmarshalBinary(snap); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestHotspotsBadRecordsAndSnapshots(t *testing.T) {
	schema := Schema{{"x", TypeDouble}, {"tag", TypeVarchar}}
	p := HotspotsParams{WindowSize: 100, ScanRadius: 1, MinimumNumberOfPointsInAHotspot: 3}
	h, _ := NewHotspots(schema, p)
	for i := 0; i < 150; i++ {
		if _, err := h.Process(Row{float64(i % 7), "t"}); err != nil {
			t.Fatal(err)
		}
	}
	snap, _ := h.MarshalBinary()
	for _, row := range []Row{{math.NaN(), "t"}, {"x", "t"}, {1.0}} {
		if _, err := h.Process(row); !errors.Is(err, ErrBadRecord) {
			t.Errorf("row %v: %v", row, err)
		}
	}
	after, _ := h.MarshalBinary()
	if string(snap) != string(after) {
		t.Fatal("a refused record changed the window")
	}
	var g Hotspots
	if err := g.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	a, _ := h.Process(Row{3.0, "t"})
	b, _ := g.Process(Row{3.0, "t"})
	if a[2] != b[2] || !strings.Contains(a[2].(string), `"hotspots":[{`) {
		t.Fatalf("after restore %v vs %v", a[2], b[2])
	}
	other, _ := NewHotspots(schema, HotspotsParams{WindowSize: 200, ScanRadius: 1, MinimumNumberOfPointsInAHotspot: 3})
	if err := other.UnmarshalBinary(snap); err == nil {
		t.Error("snapshot restored into a different plan")
	}
	if err := g.UnmarshalBinary(snap[:10]); !errors.Is(err, ErrCorruptSnapshot) {
		t.Errorf("truncated: %v", err)
	}
}
