package catalog

import (
	"strings"

	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/types"
)

// Nexmark is the Flink nexmark suite's 'nexmark' connector: a bounded or
// unbounded source of the Nexmark auction events (connectors/nexmark's
// generator) as rows of the suite's table, (event_type INT, person
// ROW<...>, auction ROW<...>, bid ROW<...>), with exactly one of the three
// rows set, as event_type says (0 person, 1 auction, 2 bid). The options
// are the suite's names (events.num, first-event.rate / next-event.rate
// as the event-time rate, the proportions, average sizes and hot ratios)
// and Sluice's 'seed' and 'first-event.time' (the event time of event 0
// in epoch milliseconds).
type Nexmark struct{}

// Name implements Factory.
func (Nexmark) Name() string { return "nexmark" }

// NexmarkIntOptions are the integer options of the nexmark connector, the
// suite's names.
var NexmarkIntOptions = []string{"events.num", "first-event.rate", "next-event.rate",
	"person.proportion", "auction.proportion", "bid.proportion",
	"bid.hot-ratio.auctions", "bid.hot-ratio.bidders", "auction.hot-ratio.sellers",
	"seed", "first-event.time"}

// NexmarkSizeOptions are the average sizes events are padded to.
var NexmarkSizeOptions = []string{"person.avg-size", "auction.avg-size", "bid.avg-size"}

// Options implements Factory.
func (Nexmark) Options() []OptionSpec {
	var specs []OptionSpec
	for _, k := range NexmarkIntOptions {
		specs = append(specs, OptionSpec{Key: k})
	}
	for _, k := range NexmarkSizeOptions {
		specs = append(specs, OptionSpec{Key: k})
	}
	return append(specs, OptionSpec{Key: "rate.limited"}, OptionSpec{Key: "rate.shape"})
}

// NexmarkColumns are the physical columns of a nexmark table, in order:
// their names and types (the ROW types' field names are the suite's).
func NexmarkColumns() ([]string, []types.Type) {
	str, big, ts := types.StringType(), types.BigIntType(), types.TimestampType(3)
	person := types.RowType(types.Field{Name: "id", Type: big}, types.Field{Name: "name", Type: str}, types.Field{Name: "emailAddress", Type: str},
		types.Field{Name: "creditCard", Type: str}, types.Field{Name: "city", Type: str}, types.Field{Name: "state", Type: str},
		types.Field{Name: "dateTime", Type: ts}, types.Field{Name: "extra", Type: str})
	auction := types.RowType(types.Field{Name: "id", Type: big}, types.Field{Name: "itemName", Type: str}, types.Field{Name: "description", Type: str},
		types.Field{Name: "initialBid", Type: big}, types.Field{Name: "reserve", Type: big}, types.Field{Name: "dateTime", Type: ts},
		types.Field{Name: "expires", Type: ts}, types.Field{Name: "seller", Type: big}, types.Field{Name: "category", Type: big}, types.Field{Name: "extra", Type: str})
	bid := types.RowType(types.Field{Name: "auction", Type: big}, types.Field{Name: "bidder", Type: big}, types.Field{Name: "price", Type: big},
		types.Field{Name: "channel", Type: str}, types.Field{Name: "url", Type: str}, types.Field{Name: "dateTime", Type: ts}, types.Field{Name: "extra", Type: str})
	return []string{"event_type", "person", "auction", "bid"}, []types.Type{types.IntType(), person, auction, bid}
}

// Check implements Factory.
func (Nexmark) Check(v *Validator) error {
	for _, k := range NexmarkIntOptions {
		n, err := v.Int(k, 0)
		if err != nil {
			return err
		}
		if n < 0 && k != "first-event.time" {
			return v.Errorf(k, "option '%s' must not be negative", k)
		}
	}
	for _, k := range NexmarkSizeOptions {
		if _, err := v.MemorySize(k, 0); err != nil {
			return err
		}
	}
	if ft, ok := v.Table.Options["first-event.time"]; ok && strings.TrimSpace(ft) == "0" {
		return v.Errorf("first-event.time", "option 'first-event.time': 0 is not supported (the generator reads 0 as its default, 2026-12-01T00:00:00Z); give another epoch millisecond")
	}
	first, _ := v.Int("first-event.rate", 10_000_000)
	next, _ := v.Int("next-event.rate", first)
	if first != next {
		return v.Errorf("next-event.rate", "option 'next-event.rate': a rate that changes (%d, then %d events/s) is not supported yet; give 'first-event.rate' and 'next-event.rate' the same value", first, next)
	}
	if first > 1_000_000_000 {
		return v.Errorf("first-event.rate", "option 'first-event.rate': %d events/s is above 1e9 (event time is in milliseconds)", first)
	}
	if _, err := v.OneOf("rate.limited", "false", "true", "false"); err != nil {
		return err
	}
	if _, err := v.OneOf("rate.shape", "SQUARE", "SQUARE"); err != nil {
		return err
	}
	names, ts := NexmarkColumns()
	var phys []int
	for i, c := range v.Table.Columns {
		if c.Expr == nil && c.Metadata == "" {
			phys = append(phys, i)
		}
	}
	want := make([]string, len(names))
	for i, n := range names {
		want[i] = n + " " + ts[i].String()
	}
	if len(phys) != len(names) {
		return diag.New(v.src, v.Table.Span, "connector 'nexmark': the table's physical columns must be the suite's (%s), not %d columns", strings.Join(want, ", "), len(phys))
	}
	for k, i := range phys {
		c := v.Table.Columns[i]
		if !strings.EqualFold(c.Name, names[k]) || !sameShape(c.Type, ts[k]) {
			return diag.New(v.src, c.Span, "connector 'nexmark': column %d must be %s, not %s %s", k+1, want[k], c.Name, c.Type)
		}
	}
	return nil
}

// sameShape reports whether a declared column type is the connector's:
// the same kinds and field names (any string length, nullability).
func sameShape(got, want types.Type) bool {
	if want.Kind == types.Row {
		if got.Kind != types.Row || len(got.Fields) != len(want.Fields) {
			return false
		}
		for i := range want.Fields {
			if !strings.EqualFold(got.Fields[i].Name, want.Fields[i].Name) || !sameShape(got.Fields[i].Type, want.Fields[i].Type) {
				return false
			}
		}
		return true
	}
	if want.IsCharString() {
		return got.IsCharString()
	}
	if want.IsTimestamp() {
		return got.Kind == want.Kind && got.Precision <= 3
	}
	return got.Kind == want.Kind
}
