package nexmark

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
	"github.com/sluicehq/sluice/internal/testseed"
)

func mustGen(t testing.TB, c Config) *Generator {
	t.Helper()
	g, err := NewGenerator(c)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestEventsAreAFunctionOfSeedAndNumber(t *testing.T) {
	seed := testseed.Seed(t)
	a, b := mustGen(t, Config{Seed: seed}), mustGen(t, Config{Seed: seed})
	other := mustGen(t, Config{Seed: seed + 1})
	differ := 0
	for n := int64(0); n < 5000; n++ {
		if a.Event(n) != b.Event(n) {
			t.Fatalf("seed %d: event %d differs between two generators of one config", seed, n)
		}
		if a.Event(n) != other.Event(n) {
			differ++
		}
	}
	if differ < 4000 {
		t.Fatalf("seed %d: only %d of 5000 events change with the seed", seed, differ)
	}
}

func TestProportionsAndIDs(t *testing.T) {
	g := mustGen(t, Config{Seed: 1})
	var counts [3]int
	nextPerson, nextAuction := int64(FirstPersonID), int64(FirstAuctionID)
	for n := int64(0); n < 50*400; n++ {
		e := g.Event(n)
		counts[e.Kind]++
		switch e.Kind {
		case KindPerson:
			if e.Person.ID != nextPerson {
				t.Fatalf("event %d: person id %d, want %d", n, e.Person.ID, nextPerson)
			}
			nextPerson++
		case KindAuction:
			if e.Auction.ID != nextAuction {
				t.Fatalf("event %d: auction id %d, want %d", n, e.Auction.ID, nextAuction)
			}
			nextAuction++
			if e.Auction.Seller < FirstPersonID || e.Auction.Seller >= nextPerson+personIDLead {
				t.Fatalf("event %d: seller %d outside [%d, %d)", n, e.Auction.Seller, FirstPersonID, nextPerson+personIDLead)
			}
		case KindBid:
			if e.Bid.Auction < FirstAuctionID || e.Bid.Auction >= nextAuction+auctionIDLead {
				t.Fatalf("event %d: bid on auction %d outside [%d, %d)", n, e.Bid.Auction, FirstAuctionID, nextAuction+auctionIDLead)
			}
			if e.Bid.Bidder < FirstPersonID || e.Bid.Bidder >= nextPerson+personIDLead {
				t.Fatalf("event %d: bidder %d outside [%d, %d)", n, e.Bid.Bidder, FirstPersonID, nextPerson+personIDLead)
			}
		}
	}
	if counts != [3]int{400, 1200, 18400} {
		t.Fatalf("person, auction, bid counts %v, want [400 1200 18400] (1:3:46)", counts)
	}
}

func TestEventTime(t *testing.T) {
	g := mustGen(t, Config{})
	for _, c := range []struct{ n, ts int64 }{{0, 0}, {9999, 0}, {10000, 1}, {10_000_000, 1000}, {25_000_001, 2500}} {
		if got := g.Timestamp(c.n) - DefaultBaseTime; got != c.ts {
			t.Errorf("Timestamp(%d) = base+%d, want base+%d (10 M events/s)", c.n, got, c.ts)
		}
		if e := g.Event(c.n); e.DateTime() != g.Timestamp(c.n) {
			t.Errorf("event %d: DateTime %d, want %d", c.n, e.DateTime(), g.Timestamp(c.n))
		}
	}
	for _, ts := range []int64{0, 1, 7, 1000} {
		n := g.EventNumberAt(DefaultBaseTime + ts)
		if g.Timestamp(n) < DefaultBaseTime+ts || (n > 0 && g.Timestamp(n-1) >= DefaultBaseTime+ts) {
			t.Errorf("EventNumberAt(base+%d) = %d: not the first event at or after it", ts, n)
		}
	}
	slow := mustGen(t, Config{EventsPerSecond: 1000})
	if got := slow.Timestamp(5) - DefaultBaseTime; got != 5 {
		t.Errorf("at 1000 events/s event 5 is at base+%d, want base+5", got)
	}
}

var creditCardRE = regexp.MustCompile(`^\d{4} \d{4} \d{4} \d{4}$`)

func TestValueDistributions(t *testing.T) {
	g := mustGen(t, Config{Seed: 42})
	var bids, hotAuctions, hotBidders, hotChans, withChannelID int
	var bidBytes, auctionBytes, personBytes, people, auctions, hotSellers int
	var lowPrice, highPrice int
	for n := int64(0); n < 200_000; n++ {
		e := g.Event(n)
		switch e.Kind {
		case KindPerson:
			p := e.Person
			people++
			if !slices.Contains(usStates, p.State) || !slices.Contains(usCities, p.City) {
				t.Fatalf("event %d: state %q city %q not from the tables", n, p.State, p.City)
			}
			first, last, ok := strings.Cut(p.Name, " ")
			if !ok || !slices.Contains(firstNames, first) || !slices.Contains(lastNames, last) {
				t.Fatalf("event %d: name %q", n, p.Name)
			}
			if !creditCardRE.MatchString(p.CreditCard) || !strings.HasSuffix(p.EmailAddress, ".com") || !strings.Contains(p.EmailAddress, "@") {
				t.Fatalf("event %d: credit card %q email %q", n, p.CreditCard, p.EmailAddress)
			}
			personBytes += 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State) + len(p.Extra)
		case KindAuction:
			a := e.Auction
			auctions++
			if (a.Seller-FirstPersonID)%hotSellerRatio == 0 {
				hotSellers++
			}
			if a.Category < FirstCategoryID || a.Category >= FirstCategoryID+NumCategories {
				t.Fatalf("event %d: category %d", n, a.Category)
			}
			if a.Expires <= a.DateTime || a.Reserve < a.InitialBid || a.InitialBid < 1 {
				t.Fatalf("event %d: auction %+v", n, a)
			}
			auctionBytes += 8 + len(a.ItemName) + len(a.Description) + 40 + len(a.Extra)
		case KindBid:
			b := e.Bid
			bids++
			if (b.Auction-FirstAuctionID)%hotAuctionRatio == 0 {
				hotAuctions++
			}
			if (b.Bidder-FirstPersonID)%hotBidderRatio == 1 {
				hotBidders++
			}
			if slices.Contains(hotChannels, b.Channel) {
				hotChans++
			} else if !strings.HasPrefix(b.Channel, "channel-") {
				t.Fatalf("event %d: channel %q", n, b.Channel)
			}
			if strings.Contains(b.URL, "&channel_id=") {
				withChannelID++
			}
			if !strings.HasPrefix(b.URL, "https://www.nexmark.com/") {
				t.Fatalf("event %d: url %q", n, b.URL)
			}
			if b.Price < 1 || b.Price > 100_000_000 {
				t.Fatalf("event %d: price %d outside $0.01–$1,000,000", n, b.Price)
			}
			if b.Price < 10_000 {
				lowPrice++
			} else if b.Price >= 1_000_000 {
				highPrice++
			}
			bidBytes += 32 + len(b.Extra)
		}
	}
	frac := func(k, n int) float64 { return float64(k) / float64(n) }
	check := func(what string, got, lo, hi float64) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s = %.3f, want in [%.3f, %.3f]", what, got, lo, hi)
		}
	}
	// Half the bids go to the hot auction (hotAuctionRatio 2), three in
	// four to the hot bidder (4); the random picks add a little.
	check("hot auction share", frac(hotAuctions, bids), 0.49, 0.53)
	check("hot bidder share", frac(hotBidders, bids), 0.74, 0.77)
	check("hot seller share", frac(hotSellers, auctions), 0.74, 0.77)
	check("hot channel share", frac(hotChans, bids), 0.48, 0.52)
	check("channel_id share of other channels", frac(withChannelID, bids-hotChans), 0.45, 0.55)
	// Prices are log-uniform over 6 decades: 2 below $100, 2 above $10,000.
	check("price < $100 share", frac(lowPrice, bids), 0.32, 0.35)
	check("price >= $10,000 share", frac(highPrice, bids), 0.32, 0.35)
	check("average bid size", float64(bidBytes)/float64(bids), 95, 105)
	check("average auction size", float64(auctionBytes)/float64(auctions), 480, 520)
	check("average person size", float64(personBytes)/float64(people), 190, 210)
}

func TestCodecsRoundTrip(t *testing.T) {
	g := mustGen(t, Config{Seed: 3})
	for n := int64(0); n < 200; n++ {
		e := g.Event(n)
		switch e.Kind {
		case KindPerson:
			roundTrip(t, PersonCodec, e.Person)
		case KindAuction:
			roundTrip(t, AuctionCodec, e.Auction)
		default:
			roundTrip(t, BidCodec, e.Bid)
		}
	}
	if _, err := BidCodec.Decode([]byte{0x02, 0x04}); err == nil {
		t.Fatal("decoding a truncated bid succeeded")
	}
}

func roundTrip[T comparable](t *testing.T, c interface {
	Append([]byte, T) []byte
	Decode([]byte) (T, error)
}, v T) {
	t.Helper()
	got, err := c.Decode(c.Append(nil, v))
	if err != nil || got != v {
		t.Fatalf("round trip of %+v: %+v, %v", v, got, err)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	_, err := NewGenerator(Config{HotBiddersRatio: -1})
	if err == nil || !strings.Contains(err.Error(), "HotBiddersRatio -1") {
		t.Fatalf("err = %v, want one naming HotBiddersRatio -1", err)
	}
}

// TestSourceIsTheSameAtAnyParallelism: the job's events at parallelism 1
// and 3 are the same multiset, event n's values in both.
func TestSourceIsTheSameAtAnyParallelism(t *testing.T) {
	seed := testseed.Seed(t)
	g := mustGen(t, Config{Seed: seed})
	const n = 5000
	var want []string
	for i := range int64(n) {
		want = append(want, fmt.Sprintf("%+v", g.Event(i)))
	}
	slices.Sort(want)
	for _, p := range []int{1, 3} {
		j := engine.NewJob("nexmark", engine.Config{Parallelism: p, StateBackend: "memory"})
		out := engine.Collect(engine.SourceOf(j, "nexmark", Source(g, Options{Events: n}), Watermarks()), "out")
		if err := j.Execute(context.Background()); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range out.Records() {
			if r.Time != r.Value.DateTime() {
				t.Fatalf("record time %d, event time %d", r.Time, r.Value.DateTime())
			}
			got = append(got, fmt.Sprintf("%+v", r.Value))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: parallelism %d: %d events, not the generator's %d", seed, p, len(got), len(want))
		}
	}
}

// TestConformance runs the suite every source runs: failures at random
// points, a resume at another parallelism, and a bounded run to its end.
func TestConformance(t *testing.T) {
	g := mustGen(t, Config{Seed: rand.Uint64()})
	const n = 3000
	want := make(map[string]int, n)
	for i := range int64(n) {
		want[key(g.Event(i))]++
	}
	conformance.RunSource(t, conformance.Source[Event]{
		Build: func(t *testing.T, j *engine.Job) *engine.Stream[Event] {
			return engine.SourceOf(j, "nexmark", Source(g, Options{Events: n}), Watermarks())
		},
		Key:  key,
		Want: want,
	})
}

func key(e Event) string {
	return strconv.Itoa(int(e.Kind)) + fmt.Sprintf("%+v", e)
}

func BenchmarkGenerate(b *testing.B) {
	g := mustGen(b, Config{Seed: 1})
	var e Event
	b.ReportAllocs()
	n := int64(0)
	cpu0 := cpuTime()
	for b.Loop() {
		g.Fill(n, &e)
		n++
	}
	// On a shared machine wall time says little; events per second of
	// the process's CPU time is the generator's own speed.
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
