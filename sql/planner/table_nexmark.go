package planner

import (
	"fmt"
	"strconv"

	"github.com/sluicehq/sluice/connectors/datagen"
	nx "github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/row"
)

// A nexmark table (catalog.Nexmark) reads connectors/nexmark's generator:
// row n is event n as (event_type, person, auction, bid), the event's
// own ROW set and the other two NULL. The source is the generator's
// parallel datagen source, so that any parallelism produces the same
// events and a restored source continues where its checkpoint left off.

// NexmarkConfig is the generator configuration and event count of a
// nexmark table's options (already validated by catalog.Nexmark).
func NexmarkConfig(opts map[string]string) (cfg nx.Config, events int64, wallRate float64) {
	get := func(k string) int64 {
		v, ok := opts[k]
		if !ok {
			return 0
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	size := func(k string) int64 {
		v, ok := opts[k]
		if !ok {
			return 0
		}
		n, _ := catalog.ParseMemorySize(v)
		return n
	}
	cfg = nx.Config{
		Seed:               uint64(get("seed")),
		EventsPerSecond:    get("first-event.rate"),
		BaseTime:           get("first-event.time"),
		PersonProportion:   get("person.proportion"),
		AuctionProportion:  get("auction.proportion"),
		BidProportion:      get("bid.proportion"),
		HotAuctionRatio:    get("bid.hot-ratio.auctions"),
		HotBiddersRatio:    get("bid.hot-ratio.bidders"),
		HotSellersRatio:    get("auction.hot-ratio.sellers"),
		AvgPersonByteSize:  size("person.avg-size"),
		AvgAuctionByteSize: size("auction.avg-size"),
		AvgBidByteSize:     size("bid.avg-size"),
	}
	if cfg.EventsPerSecond == 0 {
		cfg.EventsPerSecond = get("next-event.rate")
	}
	cfg = cfg.WithDefaults()
	if opts["rate.limited"] == "true" {
		wallRate = float64(cfg.EventsPerSecond)
	}
	return cfg, get("events.num"), wallRate
}

// buildNexmarkSource is a nexmark table's source.
func (ip *insertPlan) buildNexmarkSource(j *engine.Job) (*engine.Stream[*row.Row], error) {
	t := ip.src.table
	cfg, events, wallRate := NexmarkConfig(t.Options)
	g, err := nx.NewGenerator(cfg)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	layout := ip.src.layout
	comp := ip.src.computed
	hasComputed := false
	for _, c := range t.Columns {
		hasComputed = hasComputed || c.Expr != nil
	}
	// The nested rows' layouts are the declared ROW types'.
	personL := row.NewRowLayout(layout.Type(1))
	auctionL := row.NewRowLayout(layout.Type(2))
	bidL := row.NewRowLayout(layout.Type(3))
	rec := layout.NewRecycler()
	newGen := func() func(int64) *row.Row {
		// Top-level rows are recycled as datagen's are (rowProcess.owns);
		// the nested rows are fresh, as a query may keep one whole.
		cache := rec.NewCache()
		pa, aa, ba := personL.NewAllocator(rowBatch), auctionL.NewAllocator(rowBatch), bidL.NewAllocator(rowBatch)
		computed := comp.get()
		var e nx.Event
		return func(n int64) *row.Row {
			r := cache.Get()
			g.Fill(n, &e)
			r.SetInt(0, int64(e.Kind))
			switch e.Kind {
			case nx.KindPerson:
				p := &e.Person
				x := pa.New()
				x.SetInt(0, p.ID)
				x.SetStr(1, p.Name)
				x.SetStr(2, p.EmailAddress)
				x.SetStr(3, p.CreditCard)
				x.SetStr(4, p.City)
				x.SetStr(5, p.State)
				x.SetTimestamp(6, row.Timestamp{Millis: p.DateTime})
				x.SetStr(7, p.Extra)
				r.SetRef(1, x)
			case nx.KindAuction:
				a := &e.Auction
				x := aa.New()
				x.SetInt(0, a.ID)
				x.SetStr(1, a.ItemName)
				x.SetStr(2, a.Description)
				x.SetInt(3, a.InitialBid)
				x.SetInt(4, a.Reserve)
				x.SetTimestamp(5, row.Timestamp{Millis: a.DateTime})
				x.SetTimestamp(6, row.Timestamp{Millis: a.Expires})
				x.SetInt(7, a.Seller)
				x.SetInt(8, a.Category)
				x.SetStr(9, a.Extra)
				r.SetRef(2, x)
			default:
				b := &e.Bid
				x := ba.New()
				x.SetInt(0, b.Auction)
				x.SetInt(1, b.Bidder)
				x.SetInt(2, b.Price)
				x.SetStr(3, b.Channel)
				x.SetStr(4, b.URL)
				x.SetTimestamp(5, row.Timestamp{Millis: b.DateTime})
				x.SetStr(6, b.Extra)
				r.SetRef(3, x)
			}
			if hasComputed {
				if err := computed(r); err != nil {
					panic(fmt.Errorf("table %s: computed column: %w", t.Name, err))
				}
			}
			return r
		}
	}
	src := perSubtaskGen{opts: datagenOptions(events, wallRate), newGen: newGen}
	ws := sourceWatermarks(ip, func(r *row.Row) *row.Row { return r })
	return engine.SourceOf(j, ip.op(t.Name), src, ws), nil
}

func datagenOptions(count int64, rate float64) datagen.Options {
	return datagen.Options{Count: count, RatePerSecond: rate}
}
