package scaleout

import (
	"os"
	"strings"
	"testing"
)

// TestDocTable: docs/scale-out.md holds the tables this model computes
// (SLUICE_UPDATE_DOCS=1 rewrites them).
func TestDocTable(t *testing.T) {
	const path = "../../../docs/scale-out.md"
	for _, sec := range []struct {
		name string
		in   Inputs
	}{{"default", Default()}, {"large", Large()}} {
		checkSection(t, path, sec.name, sec.in)
	}
}

func checkSection(t *testing.T, path, name string, in Inputs) {
	t.Helper()
	begin, end := "<!-- scaleout model "+name+": begin -->\n", "<!-- scaleout model "+name+": end -->"
	got, err := Markdown(in)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", path, begin, end)
	}
	if cur := s[i+len(begin) : j]; cur != got {
		if os.Getenv("SLUICE_UPDATE_DOCS") == "1" {
			if err := os.WriteFile(path, []byte(s[:i+len(begin)]+got+s[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("%s (%s) is out of date with the model (SLUICE_UPDATE_DOCS=1 go test ./internal/bench/scaleout/ rewrites it); the model says:\n%s", path, name, got)
	}
}

// TestSimulation: the assignment at the modelled size moves only what it
// must — a dead worker's key groups, a joining worker's share.
func TestSimulation(t *testing.T) {
	in := Default()
	s, err := Simulate(in)
	if err != nil {
		t.Fatal(err)
	}
	if s.DeathMoved != in.KeyGroups/in.Workers {
		t.Errorf("a death moved %d key groups, want the dead worker's %d", s.DeathMoved, in.KeyGroups/in.Workers)
	}
	// 400 subtasks on 101 workers: the new one takes 3 or 4 subtasks of
	// 25 key groups from others, and nothing else moves.
	if s.JoinMoved < 3*25 || s.JoinMoved > 4*25 {
		t.Errorf("a join moved %d key groups", s.JoinMoved)
	}
	full, moved := Recovery(in, s, 1e12, 100e6)
	if moved >= full {
		t.Errorf("recovery with local state %v, not below a full restore %v", moved, full)
	}
}
