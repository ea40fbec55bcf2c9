package row

import (
	"fmt"
	"math"
	"sync"

	"github.com/sluicehq/sluice/sql/types"
)

// Kind is a row's change kind in a changelog (Flink's RowKind).
type Kind uint8

// The row kinds.
const (
	Insert       Kind = iota // +I
	UpdateBefore             // -U: the previous content of an updated row
	UpdateAfter              // +U: the new content of an updated row
	Delete                   // -D
)

var kindShort = [...]string{"+I", "-U", "+U", "-D"}

// String is Flink's short form: +I, -U, +U, -D.
func (k Kind) String() string {
	if int(k) < len(kindShort) {
		return kindShort[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// IsRetract reports -U and -D: rows that take back an earlier row.
func (k Kind) IsRetract() bool { return k == UpdateBefore || k == Delete }

// class is where a field's value lives in a Row.
type class uint8

const (
	clsWord    class = iota // int64 in W: BOOLEAN, integers, DATE, TIME, intervals
	clsFloat                // float64 bits in W: FLOAT, DOUBLE
	clsDecimal              // unscaled int64 in W: DECIMAL(p ≤ 18)
	clsTS                   // epoch millis in W: TIMESTAMP(p ≤ 3), TIMESTAMP_LTZ(p ≤ 3)
	clsTS2                  // millis and nanos-of-milli in two W words (p > 3)
	clsString               // S: CHAR, VARCHAR, BINARY, VARBINARY (bytes as an immutable string)
	clsRef                  // R: DECIMAL(p > 18), ARRAY, MAP, MULTISET, ROW, NULL
)

type slot struct {
	cls   class
	idx   int32 // into W (after the null words), S or R
	scale int32 // DECIMAL
}

// Layout is the physical layout of rows of one schema, computed once at
// planning time: which typed slot holds each field. A Layout is immutable
// and safe for concurrent use.
//
// Fixed-width values (booleans, integers, dates, times, timestamps,
// intervals, floating point, DECIMAL up to 18 digits) live unboxed in one
// []uint64 that also holds the null bitmap; strings and byte strings in a
// []string; only wide decimals and nested values (ARRAY, MAP, MULTISET,
// ROW) are boxed in an []any. Reading or writing a fixed-width field never
// allocates.
type Layout struct {
	types     []types.Type
	names     []string
	slots     []slot
	nullWords int
	words     int // fixed-width words after the null words
	strs      int
	refs      int
}

// NewLayout is the layout of rows with fields of the given types; names
// may be nil (they are used for printing ROW types only).
func NewLayout(ts []types.Type, names []string) *Layout {
	l := &Layout{types: append([]types.Type(nil), ts...), slots: make([]slot, len(ts))}
	if names != nil {
		l.names = append([]string(nil), names...)
	}
	l.nullWords = (len(ts) + 63) / 64
	for i, t := range ts {
		s := slot{}
		switch t.Kind {
		case types.Boolean, types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Date, types.Time,
			types.IntervalYearMonth, types.IntervalDayTime:
			s.cls, s.idx = clsWord, int32(l.words)
			l.words++
		case types.Float, types.Double:
			s.cls, s.idx = clsFloat, int32(l.words)
			l.words++
		case types.Decimal:
			s.scale = int32(t.Scale)
			if t.Precision <= 18 {
				s.cls, s.idx = clsDecimal, int32(l.words)
				l.words++
			} else {
				s.cls, s.idx = clsRef, int32(l.refs)
				l.refs++
			}
		case types.Timestamp, types.TimestampLTZ:
			if t.Precision <= 3 {
				s.cls, s.idx = clsTS, int32(l.words)
				l.words++
			} else {
				s.cls, s.idx = clsTS2, int32(l.words)
				l.words += 2
			}
		case types.Char, types.VarChar, types.Binary, types.VarBinary:
			s.cls, s.idx = clsString, int32(l.strs)
			l.strs++
		default:
			s.cls, s.idx = clsRef, int32(l.refs)
			l.refs++
		}
		l.slots[i] = s
	}
	return l
}

// NewRowLayout is the layout of a ROW type's fields.
func NewRowLayout(t types.Type) *Layout {
	ts := make([]types.Type, len(t.Fields))
	ns := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		ts[i], ns[i] = f.Type, f.Name
	}
	return NewLayout(ts, ns)
}

// Len is the number of fields.
func (l *Layout) Len() int { return len(l.types) }

// Type is field i's type.
func (l *Layout) Type(i int) types.Type { return l.types[i] }

// Types are the field types; do not modify.
func (l *Layout) Types() []types.Type { return l.types }

// Name is field i's name ("" if none was given).
func (l *Layout) Name(i int) string {
	if l.names == nil {
		return ""
	}
	return l.names[i]
}

// Row is one row: its kind and its fields in a Layout's slots. Fields are
// addressed by index. A Row is not safe for concurrent mutation; rows
// handed downstream must not be changed by the sender (copy with Clone).
type Row struct {
	Kind Kind
	L    *Layout
	W    []uint64 // null bitmap (L.nullWords words), then fixed-width slots
	S    []string
	R    []any
	home *Recycler // where Release returns the row; nil for rows not from a Recycler
}

// New allocates an all-NULL row of kind Insert.
func (l *Layout) New() *Row {
	r := &Row{L: l, W: make([]uint64, l.nullWords+l.words)}
	if l.strs > 0 {
		r.S = make([]string, l.strs)
	}
	if l.refs > 0 {
		r.R = make([]any, l.refs)
	}
	r.setAllNull()
	return r
}

// NewBatch allocates n all-NULL rows sharing three backing arrays (four
// allocations for the batch instead of up to four per row). The rows are
// independent but keep the batch's memory alive.
func (l *Layout) NewBatch(n int) []Row {
	rows := make([]Row, n)
	nw := l.nullWords + l.words
	w := make([]uint64, n*nw)
	var s []string
	var a []any
	if l.strs > 0 {
		s = make([]string, n*l.strs)
	}
	if l.refs > 0 {
		a = make([]any, n*l.refs)
	}
	for i := range rows {
		r := &rows[i]
		r.L = l
		r.W = w[i*nw : (i+1)*nw : (i+1)*nw]
		if s != nil {
			r.S = s[i*l.strs : (i+1)*l.strs : (i+1)*l.strs]
		}
		if a != nil {
			r.R = a[i*l.refs : (i+1)*l.refs : (i+1)*l.refs]
		}
		r.setAllNull()
	}
	return rows
}

func (r *Row) setAllNull() {
	n := len(r.L.types)
	for i := 0; i < r.L.nullWords; i++ {
		r.W[i] = math.MaxUint64
	}
	if rem := n % 64; rem != 0 {
		r.W[r.L.nullWords-1] = 1<<rem - 1
	}
}

// Clone is a deep-enough copy: slices are copied; nested values are
// immutable and shared.
func (r *Row) Clone() *Row {
	c := &Row{Kind: r.Kind, L: r.L, W: append([]uint64(nil), r.W...)}
	if r.S != nil {
		c.S = append([]string(nil), r.S...)
	}
	if r.R != nil {
		c.R = append([]any(nil), r.R...)
	}
	return c
}

// Len is the number of fields.
func (r *Row) Len() int { return len(r.L.types) }

// IsNull reports whether field i is NULL.
func (r *Row) IsNull(i int) bool { return r.W[i>>6]&(1<<(uint(i)&63)) != 0 }

// SetNull makes field i NULL (its slot reads as zero).
func (r *Row) SetNull(i int) {
	r.W[i>>6] |= 1 << (uint(i) & 63)
	s := r.L.slots[i]
	switch s.cls {
	case clsString:
		r.S[s.idx] = ""
	case clsRef:
		r.R[s.idx] = nil
	case clsTS2:
		j := r.L.nullWords + int(s.idx)
		r.W[j], r.W[j+1] = 0, 0
	default:
		r.W[r.L.nullWords+int(s.idx)] = 0
	}
}

func (r *Row) setNotNull(i int) { r.W[i>>6] &^= 1 << (uint(i) & 63) }

func (r *Row) w(i int) *uint64 { return &r.W[r.L.nullWords+int(r.L.slots[i].idx)] }

// Int is field i as an int64: integers, BOOLEAN (0 or 1), DATE (days),
// TIME (nanoseconds of day), intervals (months or milliseconds), and
// DECIMAL(p ≤ 18)'s unscaled value. 0 when NULL.
func (r *Row) Int(i int) int64 { return int64(*r.w(i)) }

// SetInt sets an int64-slot field (see Int) and marks it not NULL.
func (r *Row) SetInt(i int, v int64) { *r.w(i) = uint64(v); r.setNotNull(i) }

// Bool is a BOOLEAN field.
func (r *Row) Bool(i int) bool { return *r.w(i) != 0 }

// SetBool sets a BOOLEAN field.
func (r *Row) SetBool(i int, v bool) {
	var u uint64
	if v {
		u = 1
	}
	*r.w(i) = u
	r.setNotNull(i)
}

// Float is a FLOAT or DOUBLE field.
func (r *Row) Float(i int) float64 { return math.Float64frombits(*r.w(i)) }

// SetFloat sets a FLOAT or DOUBLE field (a FLOAT rounds to float32).
func (r *Row) SetFloat(i int, v float64) {
	if r.L.types[i].Kind == types.Float {
		v = float64(float32(v))
	}
	*r.w(i) = math.Float64bits(v)
	r.setNotNull(i)
}

// Str is a CHAR, VARCHAR, BINARY or VARBINARY field.
func (r *Row) Str(i int) string { return r.S[r.L.slots[i].idx] }

// SetStr sets a string or byte-string field.
func (r *Row) SetStr(i int, v string) { r.S[r.L.slots[i].idx] = v; r.setNotNull(i) }

// Decimal is a DECIMAL field.
func (r *Row) Decimal(i int) Decimal {
	s := r.L.slots[i]
	if s.cls == clsDecimal {
		return Decimal{u: int64(r.W[r.L.nullWords+int(s.idx)]), scale: s.scale}
	}
	d, _ := r.R[s.idx].(Decimal)
	return d
}

// SetDecimal sets a DECIMAL field, rescaled (HALF_UP) to the field's
// scale. A value that does not fit the field's precision makes it NULL, as
// Flink's DECIMAL overflow does.
func (r *Row) SetDecimal(i int, d Decimal) {
	s := r.L.slots[i]
	if int32(d.scale) != s.scale {
		d = d.Rescale(int(s.scale))
	}
	if !d.FitsPrecision(r.L.types[i].Precision) {
		// Flink gives NULL for a DECIMAL that overflows its type.
		r.SetNull(i)
		return
	}
	if s.cls == clsDecimal {
		r.W[r.L.nullWords+int(s.idx)] = uint64(d.u)
	} else {
		r.R[s.idx] = d
	}
	r.setNotNull(i)
}

// Timestamp is a TIMESTAMP or TIMESTAMP_LTZ field.
func (r *Row) Timestamp(i int) Timestamp {
	s := r.L.slots[i]
	j := r.L.nullWords + int(s.idx)
	if s.cls == clsTS {
		return Timestamp{Millis: int64(r.W[j])}
	}
	return Timestamp{Millis: int64(r.W[j]), Nanos: int32(r.W[j+1])}
}

// SetTimestamp sets a TIMESTAMP or TIMESTAMP_LTZ field (nanoseconds are
// dropped for precision ≤ 3).
func (r *Row) SetTimestamp(i int, ts Timestamp) {
	s := r.L.slots[i]
	j := r.L.nullWords + int(s.idx)
	r.W[j] = uint64(ts.Millis)
	if s.cls == clsTS2 {
		r.W[j+1] = uint64(ts.Nanos)
	}
	r.setNotNull(i)
}

// Ref is a boxed field: ARRAY ([]any), MAP and MULTISET (*MapValue), ROW
// (*Row) or a wide DECIMAL (Decimal). nil when NULL.
func (r *Row) Ref(i int) any { return r.R[r.L.slots[i].idx] }

// SetRef sets a boxed field; nil makes it NULL.
func (r *Row) SetRef(i int, v any) {
	if v == nil {
		r.SetNull(i)
		return
	}
	r.R[r.L.slots[i].idx] = v
	r.setNotNull(i)
}

// MapValue is a MAP value (keys and values pair by index, keys distinct)
// or a MULTISET (Values are the int64 counts). Immutable once built.
type MapValue struct {
	Keys   []any
	Values []any
}

// Get returns field i boxed in its canonical Go form: nil for NULL, bool,
// int64 (every int64-slot kind, see Int), float64, Decimal, string,
// Timestamp, []any (ARRAY), *MapValue (MAP, MULTISET) or *Row (ROW). It
// allocates for most kinds: the generic path for tests, literals and
// nested values, not for compiled expressions.
func (r *Row) Get(i int) any {
	if r.IsNull(i) {
		return nil
	}
	switch r.L.slots[i].cls {
	case clsWord:
		if r.L.types[i].Kind == types.Boolean {
			return r.Bool(i)
		}
		return r.Int(i)
	case clsFloat:
		return r.Float(i)
	case clsDecimal:
		return r.Decimal(i)
	case clsTS, clsTS2:
		return r.Timestamp(i)
	case clsString:
		return r.Str(i)
	}
	return r.Ref(i)
}

// Set sets field i from its canonical Go form (see Get); integer kinds
// also accept int and int32. It returns an error for a value of the wrong
// Go type.
func (r *Row) Set(i int, v any) error {
	if v == nil {
		r.SetNull(i)
		return nil
	}
	t := r.L.types[i]
	bad := func() error { return fmt.Errorf("row: field %d of type %s cannot hold %T", i, t, v) }
	switch r.L.slots[i].cls {
	case clsWord:
		switch x := v.(type) {
		case bool:
			if t.Kind != types.Boolean {
				return bad()
			}
			r.SetBool(i, x)
		case int64:
			r.SetInt(i, x)
		case int:
			r.SetInt(i, int64(x))
		case int32:
			r.SetInt(i, int64(x))
		default:
			return bad()
		}
	case clsFloat:
		switch x := v.(type) {
		case float64:
			r.SetFloat(i, x)
		case float32:
			r.SetFloat(i, float64(x))
		default:
			return bad()
		}
	case clsDecimal:
		d, ok := v.(Decimal)
		if !ok {
			return bad()
		}
		r.SetDecimal(i, d)
	case clsTS, clsTS2:
		ts, ok := v.(Timestamp)
		if !ok {
			return bad()
		}
		r.SetTimestamp(i, ts)
	case clsString:
		switch x := v.(type) {
		case string:
			r.SetStr(i, x)
		case []byte:
			r.SetStr(i, string(x))
		default:
			return bad()
		}
	default:
		switch x := v.(type) {
		case Decimal:
			if t.Kind != types.Decimal {
				return bad()
			}
			r.SetDecimal(i, x)
		case []any:
			if t.Kind != types.Array {
				return bad()
			}
			r.SetRef(i, x)
		case *MapValue:
			if t.Kind != types.Map && t.Kind != types.Multiset {
				return bad()
			}
			r.SetRef(i, x)
		case *Row:
			if t.Kind != types.Row {
				return bad()
			}
			r.SetRef(i, x)
		default:
			return bad()
		}
	}
	return nil
}

// Of builds a row of layout l from canonical values (see Get): for tests
// and literals.
func (l *Layout) Of(kind Kind, vs ...any) (*Row, error) {
	if len(vs) != l.Len() {
		return nil, fmt.Errorf("row: %d values for %d fields", len(vs), l.Len())
	}
	r := l.New()
	r.Kind = kind
	for i, v := range vs {
		if err := r.Set(i, v); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Projection copies chosen fields of rows of one layout into rows of
// another, by precomputed slot moves. Build it once with Project; Apply is
// safe for concurrent use.
type Projection struct {
	to     *Layout
	fields []int
	moves  []move
}

type move struct {
	cls      class
	src, dst int32 // slot indexes (W words past the null words, S, R)
}

// Project returns the layout of the given fields of l and the projection
// onto it.
func (l *Layout) Project(fields []int) (*Layout, *Projection) {
	ts := make([]types.Type, len(fields))
	var ns []string
	if l.names != nil {
		ns = make([]string, len(fields))
	}
	for j, i := range fields {
		ts[j] = l.types[i]
		if ns != nil {
			ns[j] = l.names[i]
		}
	}
	to := NewLayout(ts, ns)
	p := &Projection{to: to, fields: append([]int(nil), fields...)}
	for j, i := range fields {
		s, d := l.slots[i], to.slots[j]
		p.moves = append(p.moves, move{cls: s.cls, src: s.idx, dst: d.idx})
	}
	return to, p
}

// Layout is the projected layout.
func (p *Projection) Layout() *Layout { return p.to }

// Apply writes the projection of src into dst (a row of p.Layout()) and
// returns dst; a nil dst is allocated.
func (p *Projection) Apply(src, dst *Row) *Row {
	if dst == nil {
		dst = p.to.New()
	}
	dst.Kind = src.Kind
	sl, dl := src.L.nullWords, dst.L.nullWords
	for w := 0; w < dl; w++ {
		dst.W[w] = 0
	}
	for j, m := range p.moves {
		i := p.fields[j]
		if src.IsNull(i) {
			dst.W[j>>6] |= 1 << (uint(j) & 63)
			switch m.cls {
			case clsString:
				dst.S[m.dst] = ""
			case clsRef:
				dst.R[m.dst] = nil
			}
			continue
		}
		switch m.cls {
		case clsString:
			dst.S[m.dst] = src.S[m.src]
		case clsRef:
			dst.R[m.dst] = src.R[m.src]
		case clsTS2:
			dst.W[dl+int(m.dst)] = src.W[sl+int(m.src)]
			dst.W[dl+int(m.dst)+1] = src.W[sl+int(m.src)+1]
		default:
			dst.W[dl+int(m.dst)] = src.W[sl+int(m.src)]
		}
	}
	return dst
}

// Allocator hands out fresh all-NULL rows of one layout, carved from
// batches allocated together (NewBatch), so that an operator producing a
// row per record makes a few allocations per batch instead of two to
// four per row. Every row it returns is new: none is ever handed out
// twice, so rows may be passed downstream, across exchanges, and kept.
// A batch stays in memory while any of its rows is referenced. An
// Allocator is not safe for concurrent use: one per operator instance.
type Allocator struct {
	l    *Layout
	size int
	rows []Row
}

// NewAllocator is an allocator of rows of l in batches of size rows
// (at least 1).
func (l *Layout) NewAllocator(size int) *Allocator {
	return &Allocator{l: l, size: max(1, size)}
}

// New is a fresh all-NULL row of kind Insert.
func (a *Allocator) New() *Row {
	if len(a.rows) == 0 {
		a.rows = a.l.NewBatch(a.size)
	}
	r := &a.rows[0]
	a.rows = a.rows[1:]
	return r
}

// Recycler is a pool of rows of one layout, for pipelines that can prove
// when a row is no longer referenced: the last holder of a row that came
// from the recycler releases it (Release, or a Releaser), and a later Get
// may return the same row, reset. Releasing a row that anyone else may
// still read (a row sent to two consumers, kept in state, or still to be
// read by the sender) corrupts that reader's data, so only code that owns
// a row outright may release it. A Recycler is safe for concurrent use
// (rows may be released on another goroutine than the one that got
// them); its single-goroutine fronts, Cache and Releaser, move rows in
// batches so that the per-row path takes no lock.
type Recycler struct {
	l *Layout
	// full holds batches of released rows; spare holds emptied batches
	// (their arrays kept), which Releasers fill, so that rows travel back
	// and forth without allocating.
	full, spare sync.Pool // of *batch
}

// batch is a slice of rows handed between a Recycler's fronts; pools hold
// pointers to it so that putting one allocates nothing.
type batch struct{ rows []*Row }

// recycleBatch is how many rows a Cache refills and a Releaser hands back
// at once.
const recycleBatch = 256

// NewRecycler is an empty recycler of rows of l.
func (l *Layout) NewRecycler() *Recycler { return &Recycler{l: l} }

// spareBatch is an empty batch, reused if one is spare.
func (c *Recycler) spareBatch() *batch {
	if x := c.spare.Get(); x != nil {
		return x.(*batch)
	}
	return &batch{rows: make([]*Row, 0, recycleBatch)}
}

// Get is an all-NULL row of kind Insert of the recycler's layout: a
// released row, reset, or a new one. A Cache's Get is cheaper.
func (c *Recycler) Get() *Row {
	if x := c.full.Get(); x != nil {
		b := x.(*batch)
		n := len(b.rows) - 1
		r := b.rows[n]
		b.rows[n] = nil
		if b.rows = b.rows[:n]; n > 0 {
			c.full.Put(b)
		} else {
			c.spare.Put(b)
		}
		r.reset(c.l)
		return r
	}
	r := c.l.New()
	r.home = c
	return r
}

// Cache is a single-goroutine front of a Recycler that takes released
// rows in batches (or allocates a batch) and hands them out one by one.
type Cache struct {
	c   *Recycler
	cur *batch
}

// NewCache is a Cache of c; use it from one goroutine.
func (c *Recycler) NewCache() *Cache { return &Cache{c: c} }

// Get is as Recycler.Get.
func (k *Cache) Get() *Row {
	if k.cur == nil || len(k.cur.rows) == 0 {
		if k.cur != nil {
			k.c.spare.Put(k.cur)
		}
		if x := k.c.full.Get(); x != nil {
			k.cur = x.(*batch)
		} else {
			rows := k.c.l.NewBatch(recycleBatch / 4)
			k.cur = k.c.spareBatch()
			for i := range rows {
				rows[i].home = k.c
				k.cur.rows = append(k.cur.rows, &rows[i])
			}
		}
	}
	n := len(k.cur.rows) - 1
	r := k.cur.rows[n]
	k.cur.rows[n] = nil
	k.cur.rows = k.cur.rows[:n]
	r.reset(k.c.l)
	return r
}

func (r *Row) reset(l *Layout) {
	r.Kind, r.L = Insert, l
	clear(r.W)
	clear(r.S)
	clear(r.R)
	r.setAllNull()
}

// Release hands r back to the Recycler it came from, if any (otherwise
// it does nothing). The caller asserts that nothing references r any
// more: it must not use r after the call, and neither may anyone else.
// A Releaser is cheaper for many rows.
func (r *Row) Release() {
	if h := r.home; h != nil {
		b := h.spareBatch()
		b.rows = append(b.rows, r)
		h.full.Put(b)
	}
}

// Releaser collects rows to release (with Release's contract) and hands
// them back to their recyclers in batches. Rows not yet handed back when
// the Releaser is dropped are left to the garbage collector. Use it from
// one goroutine.
type Releaser struct {
	b *batch // nil when empty
}

// Add releases r (see Row.Release).
func (z *Releaser) Add(r *Row) {
	if r.home == nil {
		return
	}
	if z.b == nil {
		z.b = r.home.spareBatch()
	}
	z.b.rows = append(z.b.rows, r)
	if len(z.b.rows) >= recycleBatch {
		z.Flush()
	}
}

// Flush hands the collected rows back now: the batch itself when its
// rows share one recycler (the usual case), else a batch per recycler.
func (z *Releaser) Flush() {
	if z.b == nil {
		return
	}
	rows := z.b.rows
	if len(rows) == 0 {
		return
	}
	h := rows[0].home
	same := true
	for _, r := range rows[1:] {
		if r.home != h {
			same = false
			break
		}
	}
	if same {
		h.full.Put(z.b)
		z.b = nil
		return
	}
	for len(rows) > 0 {
		h := rows[0].home
		n := 1
		for n < len(rows) && rows[n].home == h {
			n++
		}
		b := h.spareBatch()
		b.rows = append(b.rows, rows[:n]...)
		h.full.Put(b)
		rows = rows[n:]
	}
	clear(z.b.rows)
	z.b.rows = z.b.rows[:0]
}
