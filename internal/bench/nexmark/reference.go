package nexmark

// The reference computations: each query written as a plain Go function
// over all the events in memory, without the engine — maps, sorts and
// loops, following the SQL directly — producing the rows the job's
// materialised output must equal.

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	nx "github.com/sluicehq/sluice/connectors/nexmark"
)

func allBids(events []nx.Event) []nx.Bid {
	var bs []nx.Bid
	for _, e := range events {
		if e.Kind == nx.KindBid {
			bs = append(bs, e.Bid)
		}
	}
	return bs
}

func allAuctions(events []nx.Event) []nx.Auction {
	var as []nx.Auction
	for _, e := range events {
		if e.Kind == nx.KindAuction {
			as = append(as, e.Auction)
		}
	}
	return as
}

func allPersons(events []nx.Event) []nx.Person {
	var ps []nx.Person
	for _, e := range events {
		if e.Kind == nx.KindPerson {
			ps = append(ps, e.Person)
		}
	}
	return ps
}

func sorted(rows []string) []string { slices.Sort(rows); return rows }

func refQ0(events []nx.Event) []string {
	var rows []string
	for _, b := range allBids(events) {
		rows = append(rows, fmt.Sprintf("%d|%d|%d|%d|%s", b.Auction, b.Bidder, b.Price, b.DateTime, b.Extra))
	}
	return sorted(rows)
}

// decimal3 prints n/1000 with three decimals.
func decimal3(n int64) string {
	s := fmt.Sprintf("%04d", n)
	return s[:len(s)-3] + "." + s[len(s)-3:]
}

func refQ1(events []nx.Event) []string {
	var rows []string
	for _, b := range allBids(events) {
		rows = append(rows, fmt.Sprintf("%d|%d|%s|%d|%s", b.Auction, b.Bidder, decimal3(908*b.Price), b.DateTime, b.Extra))
	}
	return sorted(rows)
}

func refQ2(events []nx.Event) []string {
	var rows []string
	for _, b := range allBids(events) {
		if b.Auction%123 == 0 {
			rows = append(rows, fmt.Sprintf("%d|%d", b.Auction, b.Price))
		}
	}
	return sorted(rows)
}

func refQ3(events []nx.Event) []string {
	people := map[int64]nx.Person{}
	for _, p := range allPersons(events) {
		people[p.ID] = p
	}
	var rows []string
	for _, a := range allAuctions(events) {
		p, ok := people[a.Seller]
		if ok && a.Category == 10 && (p.State == "OR" || p.State == "ID" || p.State == "CA") {
			rows = append(rows, fmt.Sprintf("%s|%s|%s|%d", p.Name, p.City, p.State, a.ID))
		}
	}
	return sorted(rows)
}

// refWinners returns, per auction with a bid between its opening and its
// expiry, the auction and its bids in that range.
func refAuctionBids(events []nx.Event) (map[int64]nx.Auction, map[int64][]nx.Bid) {
	byID := map[int64]nx.Auction{}
	for _, a := range allAuctions(events) {
		byID[a.ID] = a
	}
	in := map[int64][]nx.Bid{}
	for _, b := range allBids(events) {
		a, ok := byID[b.Auction]
		if ok && b.DateTime >= a.DateTime && b.DateTime <= a.Expires {
			in[a.ID] = append(in[a.ID], b)
		}
	}
	return byID, in
}

func refQ4(events []nx.Event) []string {
	byID, in := refAuctionBids(events)
	sum, count := map[int64]int64{}, map[int64]int64{}
	for id, bs := range in {
		final := int64(0)
		for _, b := range bs {
			final = max(final, b.Price)
		}
		c := byID[id].Category
		sum[c] += final
		count[c]++
	}
	var rows []string
	for c := range sum {
		rows = append(rows, fmt.Sprintf("%d|%d", c, sum[c]/count[c]))
	}
	return sorted(rows)
}

func refQ5(events []nx.Event) []string {
	const size, slide = 10_000, 2_000
	type wk struct{ start, auction int64 }
	counts := map[wk]int64{}
	for _, b := range allBids(events) {
		last := b.DateTime - ((b.DateTime%slide)+slide)%slide
		for s := last; s > b.DateTime-size; s -= slide {
			counts[wk{s, b.Auction}]++
		}
	}
	maxOf := map[int64]int64{}
	for k, c := range counts {
		maxOf[k.start] = max(maxOf[k.start], c)
	}
	var rows []string
	for k, c := range counts {
		if c >= maxOf[k.start] {
			rows = append(rows, fmt.Sprintf("%d|%d|%d", k.auction, c, k.start))
		}
	}
	return sorted(rows)
}

func refQ7(events []nx.Event) []string {
	bs := allBids(events)
	maxIn := map[int64]int64{}
	win := func(ts int64) int64 { return ts - ((ts%10_000)+10_000)%10_000 }
	for _, b := range bs {
		w := win(b.DateTime)
		if p, ok := maxIn[w]; !ok || b.Price > p {
			maxIn[w] = b.Price
		}
	}
	var rows []string
	for _, b := range bs {
		if b.Price == maxIn[win(b.DateTime)] {
			rows = append(rows, fmt.Sprintf("%d|%d|%d|%d|%s", b.Auction, b.Price, b.Bidder, b.DateTime, b.Extra))
		}
	}
	return sorted(rows)
}

func refQ8(events []nx.Event) []string {
	win := func(ts int64) int64 { return ts - ((ts%10_000)+10_000)%10_000 }
	type sw struct{ seller, start int64 }
	sold := map[sw]bool{}
	for _, a := range allAuctions(events) {
		sold[sw{a.Seller, win(a.DateTime)}] = true
	}
	var rows []string
	for _, p := range allPersons(events) {
		if sold[sw{p.ID, win(p.DateTime)}] {
			rows = append(rows, fmt.Sprintf("%d|%s|%d", p.ID, p.Name, win(p.DateTime)))
		}
	}
	return sorted(rows)
}

func bidLine(b nx.Bid) string {
	return fmt.Sprintf("%d|%d|%d|%s|%s|%d|%s", b.Auction, b.Bidder, b.Price, b.Channel, b.URL, b.DateTime, b.Extra)
}

func auctionLine(a nx.Auction) string {
	return fmt.Sprintf("%d|%s|%s|%d|%d|%d|%d|%d|%d|%s", a.ID, a.ItemName, a.Description, a.InitialBid, a.Reserve, a.DateTime, a.Expires, a.Seller, a.Category, a.Extra)
}

// lessRest orders bids that tie on price and time by their other fields.
func lessRest(a, b nx.Bid) bool {
	if a.Bidder != b.Bidder {
		return a.Bidder < b.Bidder
	}
	if a.Channel != b.Channel {
		return a.Channel < b.Channel
	}
	if a.URL != b.URL {
		return a.URL < b.URL
	}
	return a.Extra < b.Extra
}

func refQ9(events []nx.Event) []string {
	byID, in := refAuctionBids(events)
	var rows []string
	for id, bs := range in {
		sort.Slice(bs, func(i, j int) bool {
			if bs[i].Price != bs[j].Price {
				return bs[i].Price > bs[j].Price
			}
			if bs[i].DateTime != bs[j].DateTime {
				return bs[i].DateTime < bs[j].DateTime
			}
			return lessRest(bs[i], bs[j])
		})
		rows = append(rows, auctionLine(byID[id])+"|"+bidLine(bs[0]))
	}
	return sorted(rows)
}

func refQ11(events []nx.Event) []string {
	times := map[int64][]int64{}
	for _, b := range allBids(events) {
		times[b.Bidder] = append(times[b.Bidder], b.DateTime)
	}
	const gap = 10_000
	var rows []string
	for bidder, ts := range times {
		slices.Sort(ts)
		start, n := ts[0], int64(1)
		for i := 1; i < len(ts); i++ {
			if ts[i]-ts[i-1] > gap {
				rows = append(rows, fmt.Sprintf("%d|%d|%d|%d", bidder, n, start, ts[i-1]+gap))
				start, n = ts[i], 0
			}
			n++
		}
		rows = append(rows, fmt.Sprintf("%d|%d|%d|%d", bidder, n, start, ts[len(ts)-1]+gap))
	}
	return sorted(rows)
}

func refQ14(events []nx.Event) []string {
	var rows []string
	for _, b := range allBids(events) {
		p := 908 * b.Price // thousandths
		if !(p > 1_000_000_000 && p < 50_000_000_000) {
			continue
		}
		h := time.UnixMilli(b.DateTime).UTC().Hour()
		kind := "otherTime"
		if h >= 8 && h <= 18 {
			kind = "dayTime"
		} else if h <= 6 || h >= 20 {
			kind = "nightTime"
		}
		rows = append(rows, fmt.Sprintf("%d|%d|%s|%s|%d|%s|%d", b.Auction, b.Bidder, decimal3(p), kind, b.DateTime, b.Extra, strings.Count(b.Extra, "c")))
	}
	return sorted(rows)
}

// refStats are the counts of q15 and q16 over a group of bids.
func refStats(bs []nx.Bid) string {
	var total [4]int64
	bidders := [4]map[int64]bool{{}, {}, {}, {}}
	auctions := [4]map[int64]bool{{}, {}, {}, {}}
	for _, b := range bs {
		r := 3
		if b.Price < 10_000 {
			r = 1
		} else if b.Price < 1_000_000 {
			r = 2
		}
		for _, i := range []int{0, r} {
			total[i]++
			bidders[i][b.Bidder] = true
			auctions[i][b.Auction] = true
		}
	}
	var nb, na [4]int64
	for i := range 4 {
		nb[i], na[i] = int64(len(bidders[i])), int64(len(auctions[i]))
	}
	return fmt.Sprintf("%v|%v|%v", total, nb, na)
}

func day(ts int64) string { return time.UnixMilli(ts).UTC().Format("2006-01-02") }

func refQ15(events []nx.Event) []string {
	byDay := map[string][]nx.Bid{}
	for _, b := range allBids(events) {
		byDay[day(b.DateTime)] = append(byDay[day(b.DateTime)], b)
	}
	var rows []string
	for d, bs := range byDay {
		rows = append(rows, d+"|"+refStats(bs))
	}
	return sorted(rows)
}

func refQ16(events []nx.Event) []string {
	type cd struct{ ch, d string }
	groups := map[cd][]nx.Bid{}
	for _, b := range allBids(events) {
		k := cd{b.Channel, day(b.DateTime)}
		groups[k] = append(groups[k], b)
	}
	var rows []string
	for k, bs := range groups {
		minute := ""
		for _, b := range bs {
			minute = max(minute, time.UnixMilli(b.DateTime).UTC().Format("15:04"))
		}
		rows = append(rows, k.ch+"|"+k.d+"|"+minute+"|"+refStats(bs))
	}
	return sorted(rows)
}

func refQ17(events []nx.Event) []string {
	type ad struct {
		auction int64
		d       string
	}
	groups := map[ad][]nx.Bid{}
	for _, b := range allBids(events) {
		k := ad{b.Auction, day(b.DateTime)}
		groups[k] = append(groups[k], b)
	}
	var rows []string
	for k, bs := range groups {
		var counts [4]int64
		minP, maxP, sum := bs[0].Price, bs[0].Price, int64(0)
		for _, b := range bs {
			counts[0]++
			switch {
			case b.Price < 10_000:
				counts[1]++
			case b.Price < 1_000_000:
				counts[2]++
			default:
				counts[3]++
			}
			minP, maxP = min(minP, b.Price), max(maxP, b.Price)
			sum += b.Price
		}
		rows = append(rows, fmt.Sprintf("%d|%s|%v|%d|%d|%d|%d", k.auction, k.d, counts, minP, maxP, sum/counts[0], sum))
	}
	return sorted(rows)
}

func refQ18(events []nx.Event) []string {
	type ba struct{ bidder, auction int64 }
	last := map[ba]nx.Bid{}
	for _, b := range allBids(events) {
		k := ba{b.Bidder, b.Auction}
		cur, ok := last[k]
		later := !ok || b.DateTime > cur.DateTime ||
			(b.DateTime == cur.DateTime && (b.Price > cur.Price || (b.Price == cur.Price && lessRest(cur, b))))
		if later {
			last[k] = b
		}
	}
	var rows []string
	for _, b := range last {
		rows = append(rows, bidLine(b))
	}
	return sorted(rows)
}

func refQ19(events []nx.Event) []string {
	per := map[int64][]nx.Bid{}
	for _, b := range allBids(events) {
		per[b.Auction] = append(per[b.Auction], b)
	}
	var rows []string
	for _, bs := range per {
		sort.Slice(bs, func(i, j int) bool {
			if bs[i].Price != bs[j].Price {
				return bs[i].Price > bs[j].Price
			}
			if bs[i].DateTime != bs[j].DateTime {
				return bs[i].DateTime < bs[j].DateTime
			}
			return lessRest(bs[i], bs[j])
		})
		for r := 0; r < len(bs) && r < 10; r++ {
			rows = append(rows, fmt.Sprintf("%s|%d", bidLine(bs[r]), r+1))
		}
	}
	return sorted(rows)
}

func refQ20(events []nx.Event) []string {
	byID := map[int64]nx.Auction{}
	for _, a := range allAuctions(events) {
		byID[a.ID] = a
	}
	var rows []string
	for _, b := range allBids(events) {
		if a, ok := byID[b.Auction]; ok && a.Category == 10 {
			rows = append(rows, bidLine(b)+"|"+auctionLine(a))
		}
	}
	return sorted(rows)
}

var channelIDRE = regexp.MustCompile(`(&|^)channel_id=([^&]*)`)

func refQ21(events []nx.Event) []string {
	ids := map[string]string{"apple": "0", "google": "1", "facebook": "2", "baidu": "3"}
	var rows []string
	for _, b := range allBids(events) {
		id, ok := ids[strings.ToLower(b.Channel)]
		if !ok {
			if m := channelIDRE.FindStringSubmatch(b.URL); m != nil {
				id, ok = m[2], true
			}
		}
		if ok {
			rows = append(rows, fmt.Sprintf("%d|%d|%d|%s|%s", b.Auction, b.Bidder, b.Price, b.Channel, id))
		}
	}
	return sorted(rows)
}

func refQ22(events []nx.Event) []string {
	var rows []string
	for _, b := range allBids(events) {
		parts := strings.Split(b.URL, "/")
		dir := func(i int) string {
			if i < len(parts) {
				return parts[i]
			}
			return ""
		}
		rows = append(rows, fmt.Sprintf("%d|%d|%d|%s|%s|%s|%s", b.Auction, b.Bidder, b.Price, b.Channel, dir(3), dir(4), dir(5)))
	}
	return sorted(rows)
}
