package planner_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
)

// runOrdered plans and runs a script and returns the print sink's lines
// in the order written: at parallelism 1 that is the changelog's order.
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
	cfg.StateBackend = "pebble"
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

// TestChangelogScripts runs testdata_changelog: "explain" as TestScripts,
// "run" sorted as TestScripts (any parallelism), "changelog" in the
// order the sink got the rows (use parallelism 1).
func TestChangelogScripts(t *testing.T) {
	datadriven.Walk(t, "testdata_changelog", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "explain":
				p, err := planner.Plan(d.Input)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				var out string
				for _, l := range p.Output {
					out += l + "\n"
				}
				if p.HasJob() {
					out += p.Explain()
				}
				return out
			case "run":
				out, err := runSQL(t, d.Input)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return out
			case "changelog":
				out, err := runOrdered(t, d.Input)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return out
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}
