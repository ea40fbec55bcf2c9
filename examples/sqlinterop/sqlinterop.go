// Package sqlinterop shows SQL inside a Go engine job (package
// sql/tableenv): a Go stream of orders is a table with an event-time
// column, Go functions are called from SQL (a scalar function, an
// aggregate and a table function), and a window aggregation's result
// comes back as a typed Go stream that Go code continues — one job, one
// checkpoint.
package sqlinterop

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/tableenv"
)

// Order is one row of the orders table: columns region, amount and
// items; the record's engine timestamp becomes the ts column.
type Order struct {
	Region string  `sql:"region"`
	Amount float64 `sql:"amount"`
	Items  string  `sql:"items"` // comma-separated
	At     int64   `sql:"-"`     // event time, epoch ms; not a column
}

// Summary is one row of the query's result.
type Summary struct {
	Start  time.Time `sql:"window_start"`
	Region string    `sql:"region"`
	Tier   *string   `sql:"tier"` // nullable: MAX is NULL over no rows
	Items  int64     `sql:"items"`
	Spread float64   `sql:"spread"`
}

// Item is a row of the items table function.
type Item struct {
	Name string `sql:"item"`
}

// spread is a Go aggregate: the largest amount minus the smallest.
type spread struct{}

// MinMax is spread's accumulator, stored in keyed state as JSON.
type MinMax struct {
	Min, Max float64
	Any      bool
}

func (spread) CreateAccumulator() MinMax { return MinMax{} }
func (spread) Accumulate(a MinMax, v float64) MinMax {
	if !a.Any {
		return MinMax{v, v, true}
	}
	return MinMax{min(a.Min, v), max(a.Max, v), true}
}
func (s spread) Merge(a, b MinMax) MinMax {
	if !b.Any {
		return a
	}
	return s.Accumulate(s.Accumulate(a, b.Min), b.Max)
}
func (spread) Result(a MinMax) float64 { return a.Max - a.Min }

// Query is the SQL the example runs.
const Query = `
WITH lines AS (
  SELECT region, amount, ts, item FROM orders, LATERAL TABLE(split_items(items))
)
SELECT window_start, region, tier(MAX(amount)) AS tier, COUNT(item) AS items, spread(amount) AS spread
FROM TABLE(TUMBLE(TABLE lines, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, region`

// Run runs the example over orders and writes one line per window and
// region, sorted.
func Run(ctx context.Context, orders []Order, w io.Writer) error {
	j := engine.NewJob("sqlinterop", engine.Config{Parallelism: 2})
	env := tableenv.New(j, tableenv.Options{})
	src := engine.FromSlice(j, "orders", orders, engine.BoundedOutOfOrderness(5*time.Second, func(o Order) int64 { return o.At }))
	if err := tableenv.FromStream(env, "orders", src, tableenv.Rowtime("ts")); err != nil {
		return err
	}
	if err := tableenv.ScalarFunc1(env, "tier", func(largest float64) string {
		if largest >= 50 {
			return "gold"
		}
		return "basic"
	}); err != nil {
		return err
	}
	if err := tableenv.AggregateFunc1[float64](env, "spread", spread{}); err != nil {
		return err
	}
	if err := tableenv.TableFunc1(env, "split_items", func(s string) []Item {
		var out []Item
		for _, it := range strings.Split(s, ",") {
			out = append(out, Item{strings.TrimSpace(it)})
		}
		return out
	}); err != nil {
		return err
	}
	res, err := tableenv.ToStream[Summary](env, Query)
	if err != nil {
		return err
	}
	// Go code continues from the query's result.
	lines := engine.Map(res, "format", func(s Summary) string {
		return fmt.Sprintf("%s %-5s %-5s items=%d spread=%.2f", s.Start.UTC().Format("15:04"), s.Region, *s.Tier, s.Items, s.Spread)
	})
	out := engine.Collect(lines, "lines")
	if err := j.Execute(ctx); err != nil {
		return err
	}
	got := out.Values()
	slices.Sort(got)
	for _, l := range got {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return env.Close()
}
