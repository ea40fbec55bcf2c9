package tableenv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/tableenv"
)

type benchRow struct {
	S string `sql:"s"`
	N int64  `sql:"n"`
}

type benchOut struct {
	S string `sql:"s"`
}

// BenchmarkQuery runs a Go stream through a projection calling UPPER
// (built-in) or a Go function doing the same, into a Go stream: ns/op is
// per row, the conversions both ways included.
func BenchmarkQuery(b *testing.B) {
	for _, bc := range []struct{ name, expr string }{
		{"builtin", "UPPER(s)"},
		{"go_func", "go_upper(s)"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rows := make([]benchRow, b.N)
			for i := range rows {
				rows[i] = benchRow{S: "row", N: int64(i)}
			}
			j := engine.NewJob("bench", engine.Config{Parallelism: 1})
			env := tableenv.New(j, tableenv.Options{})
			must(b, tableenv.FromStream(env, "t", engine.FromSlice(j, "t", rows, engine.NoWatermarks[benchRow]())))
			must(b, tableenv.ScalarFunc1(env, "go_upper", strings.ToUpper))
			out, err := tableenv.ToStream[benchOut](env, "SELECT "+bc.expr+" AS s FROM t")
			if err != nil {
				b.Fatal(err)
			}
			engine.ForEach(out, "drop", func(benchOut) error { return nil })
			b.ResetTimer()
			if err := j.Execute(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}
