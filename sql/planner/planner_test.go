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
			case "changelog":
				return runChangelog(t, d.Input)
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

// writerFunc is an io.Writer of an uncomparable type.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestBuildWithUncomparableWriter: one uncomparable writer as both Stdout
// and Stderr must not panic in Build (it compares them).
func TestBuildWithUncomparableWriter(t *testing.T) {
	p, err := planner.Plan(`CREATE TABLE src (id INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
CREATE TABLE snk (id INT) WITH ('connector' = 'print');
INSERT INTO snk SELECT id FROM src;`)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := writerFunc(out.Write)
	j := engine.NewJob("w", engine.Config{StateBackend: "memory"})
	if err := p.Build(j, planner.RunOptions{Stdout: w, Stderr: w}); err != nil {
		t.Fatal(err)
	}
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Fatalf("printed %d rows, want 3:\n%s", n, out.String())
	}
}
