package state

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Timer is a registered timer: a time, the key it belongs to, and a
// namespace (e.g. the window it fires for).
type Timer struct {
	Time      int64
	KeyGroup  int
	Key       []byte
	Namespace []byte
}

// TimerQueue holds the timers of one kind (event time or processing time)
// of one keyed operator, in the store, ordered by time. Timers are deduplicated
// on (time, key, namespace), as in Flink.
//
// Each key group's timers are a sorted run in the store; the queue keeps a
// small sorted buffer of the earliest timers of each key group in memory and a
// heap of the key groups by their earliest timer, so that finding the next
// timer costs O(log key groups) and reading the store happens once per
// bufferLimit timers of a key group.
type TimerQueue struct {
	b      *Backend
	name   string
	prefix []byte
	groups []timerGroup // indexed by kg - KeyGroups.Start
	h      groupHeap
	sk     []byte
}

type timerGroup struct {
	kg       int
	buf      []timerEntry // the earliest timers of the group, sorted
	complete bool         // buf holds every timer of the group
	hidx     int          // index in the heap, -1 if not in it
}

type timerEntry struct {
	ts int64
	ck []byte // uvarint(len key) key uvarint(len ns) ns
}

func (a timerEntry) compare(b timerEntry) int {
	if a.ts != b.ts {
		if a.ts < b.ts {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.ck, b.ck)
}

const timerBufferLimit = 64

// NewTimerQueue registers a timer queue named name (e.g. "event",
// "processing") in b and loads the earliest timers of each key group.
func NewTimerQueue(b *Backend, name string) (*TimerQueue, error) {
	full := "\x00timers/" + name
	if err := b.register(StateDesc{Name: full, Kind: "timers"}, nil); err != nil {
		return nil, err
	}
	q := &TimerQueue{b: b, name: name, prefix: statePrefix(b.opts.OperatorID, full)}
	r := b.opts.KeyGroups
	q.groups = make([]timerGroup, r.Len())
	for i := range q.groups {
		g := &q.groups[i]
		g.kg, g.hidx = r.Start+i, -1
		if err := q.load(g); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// Reload rereads every key group's earliest timers from the store (after a
// restore replaced its contents).
func (q *TimerQueue) Reload() error {
	q.h = q.h[:0]
	for i := range q.groups {
		g := &q.groups[i]
		g.buf, g.complete, g.hidx = g.buf[:0], false, -1
		if err := q.load(g); err != nil {
			return err
		}
	}
	return nil
}

func appendTimeKey(dst []byte, ts int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ts)^signBit)
}

func (q *TimerQueue) groupPrefix(kg int) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(kg))
	return append(p, q.prefix...)
}

// load fills g.buf from the store with up to timerBufferLimit timers.
func (q *TimerQueue) load(g *timerGroup) error {
	lower := q.groupPrefix(g.kg)
	upper := prefixEnd(lower)
	g.buf = g.buf[:0]
	n := 0
	var derr error
	err := q.b.store.Scan(lower, upper, func(k, _ []byte) bool {
		if n == timerBufferLimit {
			return false
		}
		rest := k[len(lower):]
		if len(rest) < 8 {
			derr = fmt.Errorf("state: timer queue %q: %w: short key", q.name, ErrCorrupt)
			return false
		}
		ts := int64(binary.BigEndian.Uint64(rest) ^ signBit)
		g.buf = append(g.buf, timerEntry{ts: ts, ck: bytes.Clone(rest[8:])})
		n++
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("state: load timers %q of key group %d: %w", q.name, g.kg, err)
	}
	g.complete = n < timerBufferLimit
	q.fix(g)
	return nil
}

// fix restores g's place in the heap after its head changed.
func (q *TimerQueue) fix(g *timerGroup) {
	switch {
	case len(g.buf) == 0 && g.hidx >= 0:
		heap.Remove(&q.h, g.hidx)
	case len(g.buf) > 0 && g.hidx < 0:
		heap.Push(&q.h, g)
	case len(g.buf) > 0:
		heap.Fix(&q.h, g.hidx)
	}
}

func (q *TimerQueue) group(kg int) *timerGroup {
	return &q.groups[kg-q.b.opts.KeyGroups.Start]
}

// Register adds a timer at ts for the current key in namespace ns.
func (q *TimerQueue) Register(ts int64, ns []byte) error {
	b := q.b
	if !b.hasKey {
		return ErrNoCurrentKey
	}
	ck := appendCacheKey(nil, b.key, ns)
	q.sk = appendTimeKey(q.groupPrefixInto(b.kg), ts)
	q.sk = append(q.sk, ck...)
	if err := b.store.Set(q.sk, nil); err != nil {
		return fmt.Errorf("state: register timer: %w", err)
	}
	g := q.group(b.kg)
	e := timerEntry{ts: ts, ck: ck}
	i, found := slices.BinarySearchFunc(g.buf, e, timerEntry.compare)
	if found {
		return nil
	}
	if !g.complete && i == len(g.buf) {
		return nil // beyond the buffered prefix: read when the buffer drains
	}
	g.buf = slices.Insert(g.buf, i, e)
	if len(g.buf) > 2*timerBufferLimit {
		clear(g.buf[timerBufferLimit:])
		g.buf = g.buf[:timerBufferLimit]
		g.complete = false
	}
	if i == 0 {
		q.fix(g)
	}
	return nil
}

func (q *TimerQueue) groupPrefixInto(kg int) []byte {
	q.sk = binary.BigEndian.AppendUint16(q.sk[:0], uint16(kg))
	return append(q.sk, q.prefix...)
}

// Delete removes the timer at ts for the current key in namespace ns, if
// there is one.
func (q *TimerQueue) Delete(ts int64, ns []byte) error {
	b := q.b
	if !b.hasKey {
		return ErrNoCurrentKey
	}
	ck := appendCacheKey(nil, b.key, ns)
	q.sk = appendTimeKey(q.groupPrefixInto(b.kg), ts)
	q.sk = append(q.sk, ck...)
	if err := b.store.Delete(q.sk); err != nil {
		return fmt.Errorf("state: delete timer: %w", err)
	}
	g := q.group(b.kg)
	i, found := slices.BinarySearchFunc(g.buf, timerEntry{ts: ts, ck: ck}, timerEntry.compare)
	if !found {
		return nil
	}
	g.buf = slices.Delete(g.buf, i, i+1)
	if len(g.buf) == 0 && !g.complete {
		return q.load(g)
	}
	if i == 0 {
		q.fix(g)
	}
	return nil
}

// Peek returns the time of the earliest timer, or false if there is none.
func (q *TimerQueue) Peek() (int64, bool) {
	if len(q.h) == 0 {
		return math.MaxInt64, false
	}
	return q.h[0].buf[0].ts, true
}

// Pop removes and returns the earliest timer if its time is at most upTo.
func (q *TimerQueue) Pop(upTo int64) (Timer, bool, error) {
	if len(q.h) == 0 || q.h[0].buf[0].ts > upTo {
		return Timer{}, false, nil
	}
	g := q.h[0]
	e := g.buf[0]
	q.sk = appendTimeKey(q.groupPrefixInto(g.kg), e.ts)
	q.sk = append(q.sk, e.ck...)
	if err := q.b.store.Delete(q.sk); err != nil {
		return Timer{}, false, fmt.Errorf("state: pop timer: %w", err)
	}
	g.buf[0] = timerEntry{}
	g.buf = g.buf[1:]
	if len(g.buf) == 0 && !g.complete {
		if err := q.load(g); err != nil {
			return Timer{}, false, err
		}
	} else {
		q.fix(g)
	}
	key, ns, err := splitCacheKey(e.ck)
	if err != nil {
		return Timer{}, false, fmt.Errorf("state: timer queue %q: %w", q.name, err)
	}
	return Timer{Time: e.ts, KeyGroup: g.kg, Key: key, Namespace: ns}, true, nil
}

// splitCacheKey is the inverse of appendCacheKey.
func splitCacheKey(ck []byte) (key, ns []byte, err error) {
	n, k := binary.Uvarint(ck)
	if k <= 0 || n > uint64(len(ck)-k) {
		return nil, nil, fmt.Errorf("%w: key length", ErrCorrupt)
	}
	key = ck[k : k+int(n)]
	rest := ck[k+int(n):]
	m, k2 := binary.Uvarint(rest)
	if k2 <= 0 || m != uint64(len(rest)-k2) {
		return nil, nil, fmt.Errorf("%w: namespace length", ErrCorrupt)
	}
	return key, rest[k2:], nil
}

type groupHeap []*timerGroup

func (h groupHeap) Len() int { return len(h) }
func (h groupHeap) Less(i, j int) bool {
	if c := h[i].buf[0].compare(h[j].buf[0]); c != 0 {
		return c < 0
	}
	return h[i].kg < h[j].kg
}
func (h groupHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}
func (h *groupHeap) Push(x any) {
	g := x.(*timerGroup)
	g.hidx = len(*h)
	*h = append(*h, g)
}
func (h *groupHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	g.hidx = -1
	return g
}
