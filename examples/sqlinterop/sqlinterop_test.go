package sqlinterop_test

import (
	"context"
	"os"
	"time"

	"github.com/sluicehq/sluice/examples/sqlinterop"
)

func Example() {
	base := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).UnixMilli()
	orders := []sqlinterop.Order{
		{Region: "eu", Amount: 40, Items: "tea, cake", At: base + 1000},
		{Region: "eu", Amount: 70, Items: "coffee", At: base + 30_000},
		{Region: "us", Amount: 20, Items: "bagel", At: base + 10_000},
		{Region: "us", Amount: 15, Items: "tea", At: base + 70_000},
		{Region: "eu", Amount: 5, Items: "water, gum, mints", At: base + 65_000},
	}
	if err := sqlinterop.Run(context.Background(), orders, os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// 10:00 eu    gold  items=3 spread=30.00
	// 10:00 us    basic items=1 spread=0.00
	// 10:01 eu    basic items=3 spread=0.00
	// 10:01 us    basic items=1 spread=0.00
}
