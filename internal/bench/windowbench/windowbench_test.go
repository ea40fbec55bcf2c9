package windowbench

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/engine"
)

// TestJobMatchesBaseline checks that the job and the loop compute the same
// results, on both workloads and both state backends, over a stream long
// enough for several windows.
func TestJobMatchesBaseline(t *testing.T) {
	const n = 1_500_000 // 15 s of event time
	for _, s := range []Spec{Tumbling10s, Hop10s2s, Session500ms} {
		for _, backend := range []string{"memory", "pebble"} {
			want := Baseline(s, n)
			got, _, err := Job(context.Background(), s, n, 2, engine.Config{StateBackend: backend})
			if err != nil {
				t.Fatal(err)
			}
			if got != want || want.Results == 0 {
				t.Fatalf("%s on %s: job %+v, loop %+v", s.Name(), backend, got, want)
			}
			t.Logf("%s on %s: %d results", s.Name(), backend, got.Results)
		}
	}
}
