package nexmark

import (
	"strconv"
	"strings"
	"testing"

	nx "github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/internal/testseed"
)

// TestHandLoopsMatchReference checks each hand-written loop's rows against
// the query's reference over the same events: the same number of rows
// and the same checksum of their fields.
func TestHandLoopsMatchReference(t *testing.T) {
	seed := testseed.Seed(t)
	const events = 60_000
	atoi := func(s string) int64 {
		t.Helper()
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("reference row field %q: %v", s, err)
		}
		return v
	}
	rowHash := map[string]func(row string) uint64{
		"q1": func(row string) uint64 {
			f := strings.SplitN(row, "|", 5)
			return q1Row(atoi(f[0]), atoi(f[1]), euros(atoi(strings.Replace(f[2], ".", "", 1))), atoi(f[3]), f[4])
		},
		"q5": func(row string) uint64 {
			f := strings.Split(row, "|")
			return q5Row(atoi(f[0]), atoi(f[1]), atoi(f[2]))
		},
	}
	for name, loop := range handLoops {
		t.Run(name, func(t *testing.T) {
			q, ok := QueryByName(name)
			if !ok {
				t.Fatalf("no query %s", name)
			}
			cfg := testConfig(seed, events, 1, t)
			rows, err := Reference(q, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var want loopResult
			for _, r := range rows {
				want.add(rowHash[name](r))
			}
			if want.rows == 0 {
				t.Fatalf("seed %d: the reference of %s has no rows", seed, name)
			}
			g, err := nx.NewGenerator(cfg.Generator)
			if err != nil {
				t.Fatal(err)
			}
			if got := loop(g, events); got != want {
				t.Fatalf("seed %d %s: the loop computed %d rows (checksum %x), the reference %d (%x)", seed, name, got.rows, got.sum, want.rows, want.sum)
			}
		})
	}
}
