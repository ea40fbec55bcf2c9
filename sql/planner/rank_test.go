package planner_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
)

// runChangelog is runOrdered's output, or its error as a golden line.
func runChangelog(t testing.TB, src string) string {
	out, err := runOrdered(t, src)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	return out
}

// runOrdered plans and runs a script over bounded input and returns the
// print sink's lines in the order printed: the changelog of a query at
// parallelism 1 (the script must not raise it).
func runOrdered(t testing.TB, src string) (string, error) {
	p, err := planner.Plan(src)
	if err != nil {
		return "", err
	}
	defer p.Close()
	cfg, err := p.Config()
	if err != nil {
		return "", err
	}
	if cfg.Parallelism > 1 {
		t.Fatalf("changelog needs parallelism 1, the script sets %d", cfg.Parallelism)
	}
	cfg.StateBackend = "memory"
	j := engine.NewJob(p.JobName("test"), cfg)
	var out bytes.Buffer
	if err := p.Build(j, planner.RunOptions{Stdout: &out, DataDir: t.TempDir()}); err != nil {
		return "", err
	}
	if err := j.Execute(context.Background()); err != nil {
		return "", err
	}
	return out.String(), nil
}
