package planner_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
)

// runSQL plans and runs a script over bounded input and returns the
// print sink's lines, sorted (parallel subtasks interleave).
func runSQL(t testing.TB, src string) (string, error) {
	p, err := planner.Plan(src)
	if err != nil {
		return "", err
	}
	cfg, err := p.Config()
	if err != nil {
		return "", err
	}
	cfg.StateBackend = "memory"
	j := engine.NewJob(p.JobName("test"), cfg)
	var out bytes.Buffer
	if err := p.Build(j, planner.RunOptions{Stdout: &out}); err != nil {
		return "", err
	}
	if err := j.Execute(context.Background()); err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n", nil
}

func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
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
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}
