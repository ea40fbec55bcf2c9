package anomaly

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Limits of HOTSPOTS' parameters, as in KDA.
const (
	MinHotspotWindow = 100
	MaxHotspotWindow = 1000
)

// HotspotsParams are the parameters of HOTSPOTS, named as in KDA. All are
// required.
type HotspotsParams struct {
	// WindowSize is how many recent records are searched (100..1000).
	WindowSize int
	// ScanRadius is the distance (Euclidean, over the numeric columns)
	// within which two records are neighbours (> 0).
	ScanRadius float64
	// MinimumNumberOfPointsInAHotspot (2..WindowSize): a record with at
	// least this many records (itself included) within ScanRadius is the
	// core of a hotspot.
	MinimumNumberOfPointsInAHotspot int
}

// Validate checks the parameters against KDA's ranges.
func (p HotspotsParams) Validate() error {
	switch {
	case p.WindowSize < MinHotspotWindow || p.WindowSize > MaxHotspotWindow:
		return fmt.Errorf("anomaly: windowSize %d out of range %d..%d", p.WindowSize, MinHotspotWindow, MaxHotspotWindow)
	case !(p.ScanRadius > 0) || math.IsInf(p.ScanRadius, 0):
		return fmt.Errorf("anomaly: scanRadius %v must be a positive number", p.ScanRadius)
	case p.MinimumNumberOfPointsInAHotspot < 2 || p.MinimumNumberOfPointsInAHotspot > p.WindowSize:
		return fmt.Errorf("anomaly: minimumNumberOfPointsInAHotspot %d out of range 2..windowSize (%d)",
			p.MinimumNumberOfPointsInAHotspot, p.WindowSize)
	}
	return nil
}

// HotspotsParamsFromArgs maps the SQL arguments after the cursor, in KDA's
// order (windowSize, scanRadius, minimumNumberOfPointsInAHotspot).
func HotspotsParamsFromArgs(args []any) (HotspotsParams, error) {
	if len(args) != 3 {
		return HotspotsParams{}, fmt.Errorf("anomaly: HOTSPOTS takes 3 arguments after the cursor, got %d", len(args))
	}
	var p HotspotsParams
	var err error
	if p.WindowSize, err = intArg("windowSize", args[0]); err != nil {
		return p, err
	}
	if p.ScanRadius, err = floatArg("scanRadius", args[1]); err != nil {
		return p, err
	}
	if p.MinimumNumberOfPointsInAHotspot, err = intArg("minimumNumberOfPointsInAHotspot", args[2]); err != nil {
		return p, err
	}
	return p, p.Validate()
}

// Hotspot is a dense region of the window.
type Hotspot struct {
	// Density is how many times denser the hotspot is than the window as a
	// whole: its share of the window's records divided by its share of the
	// window's extent, the product over dimensions of
	// (hotspot range + ScanRadius) / (window range + ScanRadius). The
	// ScanRadius keeps flat dimensions from giving zero volumes.
	Density float64
	// MinValues and MaxValues bound the hotspot's records per dimension.
	MinValues, MaxValues []float64
	// Points is the number of records in the hotspot.
	Points int
}

// HotspotDetector finds hotspots over a sliding window of points: the
// clusters of density-based clustering (DBSCAN) with radius ScanRadius and
// MinimumNumberOfPointsInAHotspot. A point with that many points within
// ScanRadius (itself included) is a core point; core points within
// ScanRadius of each other are in the same hotspot; a non-core point within
// ScanRadius of a core point belongs to the hotspot of the oldest such
// core point. Other points are noise.
//
// Neighbour lists are kept up to date as points enter and leave the window,
// so a record costs one pass over the window for distances plus a pass over
// the neighbour graph. The result depends only on the points in the window
// and their order, which is what a snapshot keeps. Not safe for concurrent
// use; no randomness.
type HotspotDetector struct {
	p     HotspotsParams
	dim   int
	r2    float64
	pts   []float64 // ring of WindowSize points
	n     int       // points in the window
	head  int       // slot of the oldest point
	nbrs  [][]int32 // per slot, the slots within ScanRadius
	comp  []int32   // per slot, hotspot index or -1 (scratch)
	queue []int32
	order []int32 // slots oldest first (scratch)
}

// NewHotspotDetector returns an empty detector for points of dim values.
func NewHotspotDetector(dim int, p HotspotsParams) (*HotspotDetector, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if dim < 1 || dim > MaxDimensions {
		return nil, fmt.Errorf("anomaly: %d numeric dimensions, want 1..%d", dim, MaxDimensions)
	}
	w := p.WindowSize
	h := &HotspotDetector{
		p: p, dim: dim, r2: p.ScanRadius * p.ScanRadius,
		pts:  make([]float64, w*dim),
		nbrs: make([][]int32, w),
		comp: make([]int32, w),
	}
	return h, nil
}

func (h *HotspotDetector) point(slot int) []float64 {
	return h.pts[slot*h.dim : (slot+1)*h.dim : (slot+1)*h.dim]
}

// Add puts p into the window (evicting the oldest point once the window is
// full) and returns the hotspots of the window, densest first. p must have
// dim finite values (checked; an error leaves the window unchanged).
func (h *HotspotDetector) Add(p []float64) ([]Hotspot, error) {
	if len(p) != h.dim {
		return nil, fmt.Errorf("%w: %d values, want %d", ErrBadRecord, len(p), h.dim)
	}
	for i, v := range p {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: value %d is %v", ErrBadRecord, i, v)
		}
	}
	h.insert(p)
	return h.hotspots(), nil
}

// insert adds p to the window and the neighbour graph.
func (h *HotspotDetector) insert(p []float64) {
	w := h.p.WindowSize
	var slot int
	if h.n == w {
		slot = h.head
		h.head = (h.head + 1) % w
		for _, j := range h.nbrs[slot] {
			l := h.nbrs[j]
			k := slices.Index(l, int32(slot))
			l[k] = l[len(l)-1]
			h.nbrs[j] = l[:len(l)-1]
		}
		h.nbrs[slot] = h.nbrs[slot][:0]
	} else {
		slot = (h.head + h.n) % w
		h.n++
	}
	copy(h.point(slot), p)
	for k := 0; k < h.n; k++ {
		j := (h.head + k) % w
		if j == slot {
			continue
		}
		if h.dist2(p, h.point(j)) <= h.r2 {
			h.nbrs[slot] = append(h.nbrs[slot], int32(j))
			h.nbrs[j] = append(h.nbrs[j], int32(slot))
		}
	}
}

func (h *HotspotDetector) dist2(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// hotspots clusters the window.
func (h *HotspotDetector) hotspots() []Hotspot {
	w := h.p.WindowSize
	minPts := h.p.MinimumNumberOfPointsInAHotspot
	h.order = h.order[:0]
	for k := 0; k < h.n; k++ {
		h.order = append(h.order, int32((h.head+k)%w))
	}
	// comp is -2 for a non-core slot and -1 for a core slot not yet in a
	// component, so that the walk over the core graph (most of the cost
	// when hotspots are dense: every edge of every core point) tests one
	// int32 of a small array per edge instead of a neighbour list's length.
	for _, s := range h.order {
		h.comp[s] = -2 + int32(b2i(len(h.nbrs[s])+1 >= minPts))
	}
	core := func(slot int32) bool { return h.comp[slot] != -2 }
	// Components of the core graph, numbered in order of their oldest core
	// point: the numbering depends only on the window's contents.
	ncomp := int32(0)
	for _, s := range h.order {
		if h.comp[s] != -1 {
			continue
		}
		h.comp[s] = ncomp
		h.queue = append(h.queue[:0], s)
		for len(h.queue) > 0 {
			c := h.queue[len(h.queue)-1]
			h.queue = h.queue[:len(h.queue)-1]
			for _, j := range h.nbrs[c] {
				if h.comp[j] == -1 {
					h.comp[j] = ncomp
					h.queue = append(h.queue, j)
				}
			}
		}
		ncomp++
	}
	if ncomp == 0 {
		return nil
	}
	// Age rank of each slot, to give border points to their oldest core.
	rank := func(s int32) int { return (int(s) - h.head + w) % w }
	out := make([]Hotspot, ncomp)
	for i := range out {
		out[i].MinValues = make([]float64, h.dim)
		out[i].MaxValues = make([]float64, h.dim)
	}
	lo, hi := make([]float64, h.dim), make([]float64, h.dim)
	for k, s := range h.order {
		c := h.comp[s]
		if c < 0 {
			best := -1
			for _, j := range h.nbrs[s] {
				if core(j) && (best < 0 || rank(j) < rank(int32(best))) {
					best = int(j)
				}
			}
			if best >= 0 {
				c = h.comp[best]
			}
		}
		pt := h.point(int(s))
		for i, v := range pt {
			if k == 0 || v < lo[i] {
				lo[i] = v
			}
			if k == 0 || v > hi[i] {
				hi[i] = v
			}
		}
		if c < 0 {
			continue
		}
		hs := &out[c]
		for i, v := range pt {
			if hs.Points == 0 || v < hs.MinValues[i] {
				hs.MinValues[i] = v
			}
			if hs.Points == 0 || v > hs.MaxValues[i] {
				hs.MaxValues[i] = v
			}
		}
		hs.Points++
	}
	r := h.p.ScanRadius
	for i := range out {
		hs := &out[i]
		share := float64(hs.Points) / float64(h.n)
		extent := 1.0
		for d := 0; d < h.dim; d++ {
			extent *= (hs.MaxValues[d] - hs.MinValues[d] + r) / (hi[d] - lo[d] + r)
		}
		hs.Density = share / extent
	}
	slices.SortStableFunc(out, func(a, b Hotspot) int { return cmp.Compare(b.Density, a.Density) })
	return out
}

// HotspotsJSON renders hotspots as KDA's HOTSPOTS_RESULT:
// {"hotspots":[{"density":…,"minValues":[…],"maxValues":[…]}]}.
func HotspotsJSON(hs []Hotspot) string {
	b := []byte(`{"hotspots":[`)
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"density":`...)
		b = appendNumber(b, h.Density)
		b = append(b, `,"minValues":`...)
		b = appendNumbers(b, h.MinValues)
		b = append(b, `,"maxValues":`...)
		b = appendNumbers(b, h.MaxValues)
		b = append(b, '}')
	}
	return string(append(b, "]}"...))
}

func appendNumbers(b []byte, vs []float64) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, ']')
}

// Snapshot format of a HotspotDetector, version 1: "SHOT" u16(version),
// u32 dimensions, u32 WindowSize, f64 ScanRadius, u32 minimum points,
// then the window's points oldest first as f64s. The neighbour graph is
// rebuilt on restore.
const (
	hotspotsMagic   = "SHOT"
	hotspotsVersion = 1
)

// MarshalBinary encodes the detector's window.
func (h *HotspotDetector) MarshalBinary() ([]byte, error) {
	e := &enc{}
	h.encode(e)
	return e.b, nil
}

func (h *HotspotDetector) encode(e *enc) {
	e.header(hotspotsMagic, hotspotsVersion)
	e.u32(uint32(h.dim))
	e.u32(uint32(h.p.WindowSize))
	e.f64(h.p.ScanRadius)
	e.u32(uint32(h.p.MinimumNumberOfPointsInAHotspot))
	vals := make([]float64, 0, h.n*h.dim)
	for k := 0; k < h.n; k++ {
		vals = append(vals, h.point((h.head+k)%h.p.WindowSize)...)
	}
	e.f64s(vals)
}

// UnmarshalBinary replaces h with the detector encoded in b; on error h is
// unchanged and the error wraps ErrCorruptSnapshot.
func (h *HotspotDetector) UnmarshalBinary(b []byte) error {
	d := &dec{b: b}
	if v := d.header(hotspotsMagic); d.err == nil && v != hotspotsVersion {
		d.fail("hotspots format version %d, this build reads %d", v, hotspotsVersion)
	}
	dim := int(d.u32())
	var p HotspotsParams
	p.WindowSize = int(d.u32())
	p.ScanRadius = d.f64()
	p.MinimumNumberOfPointsInAHotspot = int(d.u32())
	if d.err != nil {
		return d.err
	}
	g, err := NewHotspotDetector(dim, p)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
	}
	vals := d.f64s(p.WindowSize * dim)
	d.end()
	if d.err != nil {
		return d.err
	}
	if len(vals)%dim != 0 {
		return fmt.Errorf("%w: window of %d values is not whole points", ErrCorruptSnapshot, len(vals))
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: window holds %v", ErrCorruptSnapshot, v)
		}
	}
	for k := 0; k < len(vals); k += dim {
		g.insert(vals[k : k+dim])
	}
	*h = *g
	return nil
}

// Hotspots is the HOTSPOTS operator: rows in, the same rows with
// HOTSPOTS_RESULT appended. Every numeric column is a dimension; all
// columns pass through. A deterministic core, not safe for concurrent use.
type Hotspots struct {
	in   Schema
	out  Schema
	dims []int
	det  *HotspotDetector
	vals []float64
}

// NewHotspots plans HOTSPOTS over rows of schema in.
func NewHotspots(in Schema, p HotspotsParams) (*Hotspots, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	dims, err := dimensions(in, ColHotspotsResult)
	if err != nil {
		return nil, err
	}
	det, err := NewHotspotDetector(len(dims), p)
	if err != nil {
		return nil, err
	}
	h := &Hotspots{in: append(Schema(nil), in...), dims: dims, det: det, vals: make([]float64, len(dims))}
	h.out = append(append(Schema(nil), h.in...), Column{ColHotspotsResult, TypeVarchar})
	return h, nil
}

// OutputSchema is the input schema followed by HOTSPOTS_RESULT.
func (h *Hotspots) OutputSchema() Schema { return h.out }

// processRows is Process for in[0], in[1], ... in turn, emitting each
// output (or ErrBadRecord refusal) in order; any other error stops it.
// HOTSPOTS has no batched path, so sc is unused.
func (h *Hotspots) processRows(in []Row, _ *rowBatch, emit func(i int, out Row, err error)) error {
	for i, row := range in {
		out, err := h.Process(row)
		if err != nil && !errors.Is(err, ErrBadRecord) {
			return err
		}
		emit(i, out, err)
	}
	return nil
}

// Process adds one row to the window and returns it with HOTSPOTS_RESULT
// appended. A bad row returns an error wrapping ErrBadRecord and leaves the
// window unchanged.
func (h *Hotspots) Process(in Row) (Row, error) {
	if err := extract(h.in, h.dims, in, h.vals); err != nil {
		return nil, err
	}
	hs, err := h.det.Add(h.vals)
	if err != nil {
		return nil, err
	}
	out := make(Row, 0, len(h.out))
	out = append(out, in...)
	return append(out, HotspotsJSON(hs)), nil
}

// MarshalBinary encodes the operator's schema and window.
func (h *Hotspots) MarshalBinary() ([]byte, error) { return h.appendBinary(nil), nil }

// appendBinary appends MarshalBinary's encoding to b.
func (h *Hotspots) appendBinary(b []byte) []byte {
	e := &enc{b: b}
	e.header("SHOO", 1)
	encodeSchema(e, h.in)
	e.nested(h.det.encode)
	return e.b
}

// UnmarshalBinary restores the operator; into a planned one it also checks
// that the snapshot is of the same plan.
func (h *Hotspots) UnmarshalBinary(b []byte) error {
	d := &dec{b: b}
	if v := d.header("SHOO"); d.err == nil && v != 1 {
		d.fail("hotspots operator format version %d, this build reads 1", v)
	}
	in := decodeSchema(d)
	db := d.bytes(len(b))
	d.end()
	if d.err != nil {
		return d.err
	}
	var det HotspotDetector
	if err := det.UnmarshalBinary(db); err != nil {
		return err
	}
	g, err := NewHotspots(in, det.p)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
	}
	if g.det.dim != det.dim {
		return fmt.Errorf("%w: window dimensions disagree with the schema", ErrCorruptSnapshot)
	}
	if h.in != nil && (h.det.p != g.det.p || !slices.Equal(h.in, g.in)) {
		return fmt.Errorf("anomaly: snapshot is of a different HOTSPOTS plan")
	}
	g.det = &det
	*h = *g
	return nil
}
