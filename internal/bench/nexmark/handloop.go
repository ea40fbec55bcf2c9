package nexmark

import (
	"fmt"

	nx "github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/internal/bench"
)

// The hand-written loops are the baselines of `sluice bench nexmark`: for
// a query that has one, a plain Go loop over the same generator's events
// does the query's work in memory — no engine, no state backend, no
// checkpoints — and is measured in the same process run, right after each
// run of the job; the result's baseline_ratio is the job's events/s over
// the loop's. Each loop folds its rows into a loopResult, which its test
// checks against the query's reference.

// loopResult is what a hand loop computed: its rows and an
// order-independent checksum of them.
type loopResult struct {
	rows int64
	sum  uint64
}

func (r *loopResult) add(h uint64) {
	r.rows++
	r.sum += mix(h)
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// handLoops are the queries' hand-written loops over events [0, n).
var handLoops = map[string]func(g *nx.Generator, n int64) loopResult{
	"q1": loopQ1,
	"q5": loopQ5,
}

// q1Row folds a row of q1 into a hash.
func q1Row(auction, bidder int64, price euros, dateTime int64, extra string) uint64 {
	return mix(uint64(auction)) ^ mix(uint64(bidder)<<1) ^ mix(uint64(price)<<2) ^ mix(uint64(dateTime)<<3) ^ uint64(len(extra))<<48
}

// loopQ1 maps every bid's price to euros.
func loopQ1(g *nx.Generator, n int64) loopResult {
	var r loopResult
	var e nx.Event
	for i := int64(0); i < n; i++ {
		g.Fill(i, &e)
		if e.Kind != nx.KindBid {
			continue
		}
		b := &e.Bid
		row := Q1{Auction: b.Auction, Bidder: b.Bidder, Price: toEuros(b.Price), DateTime: b.DateTime, Extra: b.Extra}
		r.add(q1Row(row.Auction, row.Bidder, row.Price, row.DateTime, row.Extra))
	}
	return r
}

func q5Row(auction, num, windowStart int64) uint64 {
	return mix(uint64(auction)) ^ mix(uint64(num)<<1) ^ mix(uint64(windowStart)<<2)
}

// loopQ5 counts bids per auction in 2 s slices (a ring of maps, one per
// slice of the 10 s window); when a window's last slice closes, it sums
// the window's five slices per auction and emits the auctions at the
// window's maximum count. Events arrive in event-time order, so a slice
// closes when the first event of a later slice comes.
func loopQ5(g *nx.Generator, n int64) loopResult {
	const size, slide = 10_000, 2_000
	const k = size / slide
	var ring [k]map[int64]int64
	for i := range ring {
		ring[i] = map[int64]int64{}
	}
	merged := map[int64]int64{}
	slot := func(sliceStart int64) map[int64]int64 { return ring[floorMod(sliceStart/slide, k)] }
	var r loopResult
	// fire emits the window that starts at st (its slices are st, st+slide, ...).
	fire := func(st int64) {
		clear(merged)
		for s := st; s < st+size; s += slide {
			for a, c := range slot(s) {
				merged[a] += c
			}
		}
		var top int64
		for _, c := range merged {
			top = max(top, c)
		}
		for a, c := range merged {
			if c == top {
				r.add(q5Row(a, c, st))
			}
		}
	}
	// closeSlice finishes the slice starting at s: the window whose last
	// slice it is fires, and the ring slot of the slice that leaves every
	// window is emptied.
	closeSlice := func(s int64) {
		fire(s + slide - size)
		clear(slot(s + slide - size))
	}
	var e nx.Event
	cur, started := int64(0), false // start of the open slice
	for i := int64(0); i < n; i++ {
		g.Fill(i, &e)
		if e.Kind != nx.KindBid {
			continue
		}
		ts := e.Bid.DateTime
		s := ts - floorMod(ts, slide)
		if !started {
			cur, started = s, true
		}
		for cur < s {
			closeSlice(cur)
			cur += slide
		}
		slot(s)[e.Bid.Auction]++
	}
	if started { // end of input: every window that holds bids fires
		for end := cur + size - slide; cur <= end; cur += slide {
			closeSlice(cur)
		}
	}
	return r
}

func floorMod(x, m int64) int64 {
	r := x % m
	if r < 0 {
		r += m
	}
	return r
}

// measureLoop runs q's hand loop over cfg's events and measures it; ok is
// false when q has none.
func measureLoop(q Query, cfg Config) (s bench.Sample, res loopResult, ok bool, err error) {
	loop := handLoops[q.Name]
	if loop == nil {
		return s, res, false, nil
	}
	g, err := nx.NewGenerator(genConfig(cfg))
	if err != nil {
		return s, res, false, fmt.Errorf("nexmark %s hand loop: %w", q.Name, err)
	}
	s, err = bench.Measure(func() (int64, int64, error) {
		res = loop(g, cfg.Events)
		return cfg.Events, 0, nil
	})
	return s, res, true, err
}
