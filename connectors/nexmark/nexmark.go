// Package nexmark is the Nexmark benchmark's event generator as a parallel
// engine source: the online auction of people, auctions and bids that the
// Flink nexmark suite (after Beam's) generates, with the same proportions,
// id schemes, hot auctions, bidders and sellers, field definitions and
// value distributions.
//
// Event n of a run is a pure function of the configuration's seed and n:
// its kind (n mod 50: 1 person, 3 auctions, 46 bids per 50 events), its
// ids (derived from n as the reference does, so that bids refer to recent
// auctions and people), its event time (BaseTime + n / EventsPerSecond)
// and its values (from a random stream seeded by seed and n). So any split
// of the event numbers across subtasks produces the same events, a
// restored source continues exactly where its checkpoint left off, and an
// independent computation can regenerate the input of a job.
//
// The source is package datagen's: subtask s of p generates events s,
// s+p, ...; positions are checkpointed and redistributed on rescale.
//
// Strings are not built per event: names, e-mail addresses, credit cards,
// item names, descriptions, channels and URLs are drawn from tables built
// once by the reference's procedures, and the `extra` padding is a slice
// of one long random string, so generating an event allocates nothing.
package nexmark

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
)

// Kind is an event's kind, numbered as the Flink nexmark suite's
// event_type column.
type Kind uint8

// The kinds of events.
const (
	KindPerson Kind = iota
	KindAuction
	KindBid
)

func (k Kind) String() string {
	switch k {
	case KindPerson:
		return "person"
	case KindAuction:
		return "auction"
	case KindBid:
		return "bid"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Person is a new user of the auction site.
type Person struct {
	ID           int64
	Name         string
	EmailAddress string
	CreditCard   string
	City         string
	State        string
	DateTime     int64 // event time, milliseconds since the epoch
	Extra        string
}

// Auction is an item put up for auction by a seller.
type Auction struct {
	ID          int64
	ItemName    string
	Description string
	InitialBid  int64
	Reserve     int64
	DateTime    int64
	Expires     int64
	Seller      int64
	Category    int64
	Extra       string
}

// Bid is a bid on an auction.
type Bid struct {
	Auction  int64
	Bidder   int64
	Price    int64
	Channel  string
	URL      string
	DateTime int64
	Extra    string
}

// Event is one Nexmark event: exactly one of Person, Auction and Bid is
// set, as Kind says.
type Event struct {
	Kind    Kind
	Person  Person
	Auction Auction
	Bid     Bid
}

// DateTime returns the event's event time in milliseconds.
func (e *Event) DateTime() int64 {
	switch e.Kind {
	case KindPerson:
		return e.Person.DateTime
	case KindAuction:
		return e.Auction.DateTime
	}
	return e.Bid.DateTime
}

// The reference's constants.
const (
	FirstPersonID   = 1000
	FirstAuctionID  = 1000
	FirstCategoryID = 10
	NumCategories   = 5

	personIDLead     = 10
	auctionIDLead    = 10
	hotAuctionRatio  = 100 // hot auctions are multiples of 100 (base 0)
	hotSellerRatio   = 100
	hotBidderRatio   = 100
	hotChannelsRatio = 2
	channelsNumber   = 10_000
	minStringLength  = 3
)

// DefaultBaseTime is the event time of event 0 unless configured:
// 2026-12-01T00:00:00Z. (The reference starts at the wall clock; a fixed
// base keeps runs reproducible.)
var DefaultBaseTime = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// Config is the generator's configuration, with the reference's defaults
// (NexmarkConfiguration) for every zero field.
type Config struct {
	// Seed seeds every event's values.
	Seed uint64
	// EventsPerSecond is the rate of event time: event n happens at
	// BaseTime + n*1000/EventsPerSecond ms. Default 10,000,000 (an
	// inter-event delay of 0.1 µs).
	EventsPerSecond int64
	// BaseTime is the event time of event 0 in ms. Default DefaultBaseTime.
	BaseTime int64
	// PersonProportion, AuctionProportion and BidProportion: of every
	// sum-of-the-three events, that many are people, auctions, bids.
	// Default 1, 3, 46.
	PersonProportion, AuctionProportion, BidProportion int64
	// NumActivePeople is how many recent people new auctions and bids
	// pick from. Default 1000.
	NumActivePeople int64
	// NumInFlightAuctions is how many recent auctions bids pick from, and
	// sets auction lengths. Default 100.
	NumInFlightAuctions int64
	// HotAuctionRatio, HotBiddersRatio, HotSellersRatio: 1 in ratio bids
	// (auctions) picks a random auction, bidder (seller); the others pick
	// the current hot one. Default 2, 4, 4.
	HotAuctionRatio, HotBiddersRatio, HotSellersRatio int64
	// AvgPersonByteSize, AvgAuctionByteSize, AvgBidByteSize are the
	// average sizes events are padded to with Extra. Default 200, 500, 100.
	AvgPersonByteSize, AvgAuctionByteSize, AvgBidByteSize int64
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.EventsPerSecond, 10_000_000)
	def(&c.BaseTime, DefaultBaseTime)
	def(&c.PersonProportion, 1)
	def(&c.AuctionProportion, 3)
	def(&c.BidProportion, 46)
	def(&c.NumActivePeople, 1000)
	def(&c.NumInFlightAuctions, 100)
	def(&c.HotAuctionRatio, 2)
	def(&c.HotBiddersRatio, 4)
	def(&c.HotSellersRatio, 4)
	def(&c.AvgPersonByteSize, 200)
	def(&c.AvgAuctionByteSize, 500)
	def(&c.AvgBidByteSize, 100)
	return c
}

// Validate reports whether c (after defaults) is usable.
func (c Config) Validate() error {
	c = c.WithDefaults()
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"EventsPerSecond", c.EventsPerSecond}, {"PersonProportion", c.PersonProportion},
		{"AuctionProportion", c.AuctionProportion}, {"BidProportion", c.BidProportion},
		{"NumActivePeople", c.NumActivePeople}, {"NumInFlightAuctions", c.NumInFlightAuctions},
		{"HotAuctionRatio", c.HotAuctionRatio}, {"HotBiddersRatio", c.HotBiddersRatio},
		{"HotSellersRatio", c.HotSellersRatio}, {"AvgPersonByteSize", c.AvgPersonByteSize},
		{"AvgAuctionByteSize", c.AvgAuctionByteSize}, {"AvgBidByteSize", c.AvgBidByteSize},
	} {
		if f.v < 0 {
			return fmt.Errorf("nexmark: %s %d must not be negative", f.name, f.v)
		}
	}
	if c.EventsPerSecond > 1_000_000_000 {
		return fmt.Errorf("nexmark: EventsPerSecond %d is above 1e9 (event time is in milliseconds)", c.EventsPerSecond)
	}
	return nil
}

// Generator computes events by number. It is immutable and safe for
// concurrent use.
type Generator struct {
	c     Config
	total int64
}

// NewGenerator returns the generator of c.
func NewGenerator(c Config) (*Generator, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.WithDefaults()
	return &Generator{c: c, total: c.PersonProportion + c.AuctionProportion + c.BidProportion}, nil
}

// Config returns the generator's configuration with its defaults.
func (g *Generator) Config() Config { return g.c }

// Timestamp returns the event time of event n in ms.
func (g *Generator) Timestamp(n int64) int64 {
	return g.c.BaseTime + mulDiv(n, 1000, g.c.EventsPerSecond)
}

// EventNumberAt returns the first event number whose event time is at
// least ts.
func (g *Generator) EventNumberAt(ts int64) int64 {
	d := ts - g.c.BaseTime
	if d <= 0 {
		return 0
	}
	// smallest n with n*1000/rate >= d: n = ceil(d*rate/1000)
	return (d*g.c.EventsPerSecond + 999) / 1000
}

func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

// KindOf returns the kind of event n.
func (g *Generator) KindOf(n int64) Kind {
	r := n % g.total
	switch {
	case r < g.c.PersonProportion:
		return KindPerson
	case r < g.c.PersonProportion+g.c.AuctionProportion:
		return KindAuction
	}
	return KindBid
}

// lastBase0PersonID is the (0-based) id of the latest person at or before
// event n.
func (g *Generator) lastBase0PersonID(n int64) int64 {
	epoch, off := n/g.total, n%g.total
	if off >= g.c.PersonProportion {
		off = g.c.PersonProportion - 1
	}
	return epoch*g.c.PersonProportion + off
}

// lastBase0AuctionID is the (0-based) id of the latest auction at or
// before event n.
func (g *Generator) lastBase0AuctionID(n int64) int64 {
	epoch, off := n/g.total, n%g.total
	switch {
	case off < g.c.PersonProportion:
		epoch--
		off = g.c.AuctionProportion - 1
	case off >= g.c.PersonProportion+g.c.AuctionProportion:
		off = g.c.AuctionProportion - 1
	default:
		off -= g.c.PersonProportion
	}
	return epoch*g.c.AuctionProportion + off
}

// nextBase0PersonID picks one of the active people, or one of the next
// few to join.
func (g *Generator) nextBase0PersonID(n int64, r *rng) int64 {
	numPeople := g.lastBase0PersonID(n) + 1
	active := min(numPeople, g.c.NumActivePeople)
	return numPeople - active + r.int64n(active+personIDLead)
}

// nextBase0AuctionID picks one of the auctions in flight, or one of the
// next few to open.
func (g *Generator) nextBase0AuctionID(n int64, r *rng) int64 {
	maxA := g.lastBase0AuctionID(n)
	minA := max(maxA-g.c.NumInFlightAuctions, 0)
	return minA + r.int64n(maxA-minA+1+auctionIDLead)
}

// Event returns event n.
func (g *Generator) Event(n int64) Event {
	var e Event
	g.Fill(n, &e)
	return e
}

// Fill sets *e to event n (only the fields of its kind are written).
func (g *Generator) Fill(n int64, e *Event) {
	r := newRNG(g.c.Seed, n)
	ts := g.Timestamp(n)
	e.Kind = g.KindOf(n)
	switch e.Kind {
	case KindPerson:
		g.person(n, &r, ts, &e.Person)
	case KindAuction:
		g.auction(n, &r, ts, &e.Auction)
	default:
		g.bid(n, &r, ts, &e.Bid)
	}
}

func (g *Generator) person(n int64, r *rng, ts int64, p *Person) {
	p.ID = g.lastBase0PersonID(n) + FirstPersonID
	p.Name = names[r.intn(len(names))]
	p.EmailAddress = emails[r.intn(len(emails))]
	p.CreditCard = creditCards[r.intn(len(creditCards))]
	p.City = usCities[r.intn(len(usCities))]
	p.State = usStates[r.intn(len(usStates))]
	p.DateTime = ts
	size := 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State)
	p.Extra = nextExtra(r, int64(size), g.c.AvgPersonByteSize)
}

func (g *Generator) auction(n int64, r *rng, ts int64, a *Auction) {
	a.ID = g.lastBase0AuctionID(n) + FirstAuctionID
	if r.int64n(g.c.HotSellersRatio) > 0 {
		a.Seller = (g.lastBase0PersonID(n) / hotSellerRatio) * hotSellerRatio
	} else {
		a.Seller = g.nextBase0PersonID(n, r)
	}
	a.Seller += FirstPersonID
	a.Category = FirstCategoryID + int64(r.intn(NumCategories))
	a.InitialBid = nextPrice(r)
	a.DateTime = ts
	a.Expires = ts + g.nextAuctionLengthMs(n, r, ts)
	a.ItemName = itemNames[r.intn(len(itemNames))]
	a.Description = descriptions[r.intn(len(descriptions))]
	a.Reserve = a.InitialBid + nextPrice(r)
	size := 8 + len(a.ItemName) + len(a.Description) + 8 + 8 + 8 + 8 + 8
	a.Extra = nextExtra(r, int64(size), g.c.AvgAuctionByteSize)
}

// nextAuctionLengthMs: auctions last up to twice the event time it takes
// for NumInFlightAuctions more auctions to open, so that about that many
// are open at once.
func (g *Generator) nextAuctionLengthMs(n int64, r *rng, ts int64) int64 {
	eventsForAuctions := g.c.NumInFlightAuctions * g.total / g.c.AuctionProportion
	horizon := g.Timestamp(n+eventsForAuctions) - ts
	return 1 + r.int64n(max(horizon*2, 1))
}

func (g *Generator) bid(n int64, r *rng, ts int64, b *Bid) {
	if r.int64n(g.c.HotAuctionRatio) > 0 {
		b.Auction = (g.lastBase0AuctionID(n) / hotAuctionRatio) * hotAuctionRatio
	} else {
		b.Auction = g.nextBase0AuctionID(n, r)
	}
	b.Auction += FirstAuctionID
	if r.int64n(g.c.HotBiddersRatio) > 0 {
		b.Bidder = (g.lastBase0PersonID(n)/hotBidderRatio)*hotBidderRatio + 1
	} else {
		b.Bidder = g.nextBase0PersonID(n, r)
	}
	b.Bidder += FirstPersonID
	b.Price = nextPrice(r)
	if r.intn(hotChannelsRatio) > 0 {
		i := r.intn(len(hotChannels))
		b.Channel, b.URL = hotChannels[i], hotURLs[i]
	} else {
		i := r.intn(channelsNumber)
		b.Channel, b.URL = channels[i], channelURLs[i]
	}
	b.DateTime = ts
	b.Extra = nextExtra(r, 8+8+8+8, g.c.AvgBidByteSize)
}

// nextPrice is the reference's price distribution: 10^(6u) dollars for
// uniform u, in cents — from $0.01 to $1,000,000, log-uniform. u has 24
// bits, and 10^(6u) is the product of two table entries (one per 12 bits)
// instead of a math.Pow per bid.
func nextPrice(r *rng) int64 {
	u := r.next() >> 40
	return int64(priceHi[u>>12]*priceLo[u&0xfff] + 0.5)
}

// priceHi[i] is 100·10^(6i/4096), priceLo[i] 10^(6i/2^24).
var priceHi, priceLo [4096]float64

func init() {
	for i := range 4096 {
		priceHi[i] = 100 * math.Pow(10, 6*float64(i)/4096)
		priceLo[i] = math.Pow(10, 6*float64(i)/(1<<24))
	}
}

// nextExtra pads an event of currentSize bytes towards desiredAvg: a
// random string of 80–120 % of the difference.
func nextExtra(r *rng, currentSize, desiredAvg int64) string {
	if currentSize > desiredAvg {
		return ""
	}
	desiredAvg -= currentSize
	delta := int64(math.Round(float64(desiredAvg) * 0.2))
	size := desiredAvg - delta
	if delta > 0 {
		size += r.int64n(2 * delta)
	}
	if size > int64(len(extraPool)) {
		size = int64(len(extraPool))
	}
	off := r.int64n(int64(len(extraPool)) - size + 1)
	return extraPool[off : off+size]
}

// rng is the per-event random stream: splitmix64 seeded by the run's seed
// and the event number.
type rng struct{ s uint64 }

func newRNG(seed uint64, n int64) rng {
	return rng{s: mix(seed ^ mix(uint64(n)+0x632be59bd9b4e019))}
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	x := r.s
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// int64n returns a uniform value in [0, n) (0 for n <= 0).
func (r *rng) int64n(n int64) int64 {
	if n <= 0 {
		return 0
	}
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

func (r *rng) intn(n int) int { return int(r.int64n(int64(n))) }

func (r *rng) float64() float64 { return float64(r.next()>>11) / (1 << 53) }

// The reference's value tables.
var (
	usStates    = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities    = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames  = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames   = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	hotChannels = []string{"Google", "Facebook", "Baidu", "Apple"}
)

// Tables built once, by the reference's string procedures, from a fixed
// seed: events pick from them.
const tableSize = 4096

var (
	names        []string // every first name with every last name
	emails       []string
	creditCards  []string
	itemNames    []string
	descriptions []string
	hotURLs      []string
	channels     []string
	channelURLs  []string
	extraPool    string
)

func init() {
	r := rng{s: 0x6e65786d61726b} // "nexmark"
	for _, f := range firstNames {
		for _, l := range lastNames {
			names = append(names, f+" "+l)
		}
	}
	emails = make([]string, tableSize)
	creditCards = make([]string, tableSize)
	itemNames = make([]string, tableSize)
	descriptions = make([]string, tableSize)
	for i := range tableSize {
		emails[i] = nextString(&r, 7, ' ') + "@" + nextString(&r, 5, ' ') + ".com"
		creditCards[i] = fmt.Sprintf("%04d %04d %04d %04d", r.intn(10000), r.intn(10000), r.intn(10000), r.intn(10000))
		itemNames[i] = nextString(&r, 20, ' ')
		descriptions[i] = nextString(&r, 100, ' ')
	}
	for range hotChannels {
		hotURLs = append(hotURLs, baseURL(&r))
	}
	channels = make([]string, channelsNumber)
	channelURLs = make([]string, channelsNumber)
	for i := range channelsNumber {
		channels[i] = "channel-" + strconv.Itoa(i)
		u := baseURL(&r)
		if r.intn(2) == 0 {
			u += "&channel_id=" + strconv.FormatInt(int64(absInt32(int32(bits.Reverse32(uint32(i))))), 10)
		}
		channelURLs[i] = u
	}
	var b strings.Builder
	for range 1 << 16 {
		b.WriteByte(byte('a' + r.intn(26)))
	}
	extraPool = b.String()
}

func absInt32(v int32) int64 {
	if v < 0 {
		return -int64(v)
	}
	return int64(v)
}

// nextString is the reference's random string: 3 to maxLength-1
// characters, lower-case letters with about one in 13 the special
// character, trimmed.
func nextString(r *rng, maxLength int, special byte) string {
	n := minStringLength + r.intn(maxLength-minStringLength)
	b := make([]byte, n)
	for i := range b {
		if r.intn(13) == 0 {
			b[i] = special
		} else {
			b[i] = byte('a' + r.intn(26))
		}
	}
	return strings.TrimSpace(string(b))
}

func baseURL(r *rng) string {
	return "https://www.nexmark.com/" + nextString(r, 5, '_') + "/" + nextString(r, 5, '_') + "/" + nextString(r, 5, '_') + "/item.htm?query=1"
}

// Options configure the source.
type Options struct {
	// Events is the number of events across all subtasks; 0 means
	// unbounded.
	Events int64
	// RatePerSecond limits the wall-clock rate across all subtasks; 0
	// means as fast as possible.
	RatePerSecond float64
}

// Source returns the parallel source of g's events.
func Source(g *Generator, opts Options) engine.Source[Event] {
	return datagen.Source(datagen.Options{Count: opts.Events, RatePerSecond: opts.RatePerSecond}, g.Event)
}

// WatermarkDelay is the out-of-orderness the Nexmark queries' sources
// declare: the watermark is dateTime - 4 s.
const WatermarkDelay = 4 * time.Second

// Watermarks is the queries' watermark strategy: event time is DateTime,
// the watermark DateTime - WatermarkDelay.
func Watermarks() engine.WatermarkStrategy[Event] {
	return engine.BoundedOutOfOrderness(WatermarkDelay, func(e Event) int64 { return e.DateTime() })
}

// SourceFunc is Source over any function of the event number — g.Event
// wrapped, for instance, to observe the generation (benchmarks record when
// each millisecond of event time was generated).
func SourceFunc(gen func(n int64) Event, opts Options) engine.Source[Event] {
	return datagen.Source(datagen.Options{Count: opts.Events, RatePerSecond: opts.RatePerSecond}, gen)
}
