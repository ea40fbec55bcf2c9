package videobench

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/internal/bench"
)

// The benchmark runs end to end at a tiny size and reports both cases
// (speeds are not asserted).
func TestRunReportsBothCases(t *testing.T) {
	var rs []bench.Result
	cfg := Config{Runs: 1, Fragments: 5, FramesPerFrag: 3, FrameBytes: 100, Dir: t.TempDir()}
	if err := Run(context.Background(), cfg, bench.Collect(&rs)); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Records != 5 || rs[1].Records != 5 {
		t.Fatalf("results %+v", rs)
	}
	if err := Run(context.Background(), Config{}, bench.Collect(&rs)); err == nil {
		t.Fatal("an empty config ran")
	}
}
