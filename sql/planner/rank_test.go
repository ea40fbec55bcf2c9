package planner_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
)

// runChangelog plans and runs a script over bounded input and returns the
// print sink's lines in the order printed: the changelog of a query at
// parallelism 1 (the script must not raise it).
func runChangelog(t testing.TB, src string) string {
	p, err := planner.Plan(src)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	cfg, err := p.Config()
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	if cfg.Parallelism > 1 {
		t.Fatalf("changelog needs parallelism 1, the script sets %d", cfg.Parallelism)
	}
	cfg.StateBackend = "memory"
	j := engine.NewJob(p.JobName("test"), cfg)
	var out bytes.Buffer
	if err := p.Build(j, planner.RunOptions{Stdout: &out}); err != nil {
		return "error: " + err.Error() + "\n"
	}
	if err := j.Execute(context.Background()); err != nil {
		return "error: " + err.Error() + "\n"
	}
	return out.String()
}
