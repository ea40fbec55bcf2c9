package cluster

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDefinitionDiff(t *testing.T) {
	running := Definition{Job: "q5", Parallelism: 4, MaxParallelism: 128, SQLHash: HashSQL("SELECT 1"),
		Operators: []Operator{{"bids", "source", 4}, {"window", "window", 4}, {"out", "sink", 4}}}
	if d := running.Diff(running); len(d) != 0 {
		t.Fatalf("same definition: %v", d)
	}
	back, err := ParseDefinition(running.Canonical())
	if err != nil || !reflect.DeepEqual(back, running) || back.Hash() != running.Hash() {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	other := running
	other.Parallelism = 3
	other.SQLHash = HashSQL("SELECT 2")
	other.Operators = []Operator{{"bids", "source", 4}, {"win", "window", 4}}
	got := running.Diff(other)
	want := []string{
		"parallelism: running 4, this worker 3",
		"SQL text: running sha256 " + HashSQL("SELECT 1")[:12] + "…, this worker " + HashSQL("SELECT 2")[:12] + "…",
		`operator 1: running window "window" (parallelism 4), this worker window "win" (parallelism 4)`,
		`operator 2: running sink "out" (parallelism 4), missing in this worker`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if running.Hash() == other.Hash() {
		t.Fatal("different definitions hash the same")
	}
	extra := running
	extra.Operators = append(append([]Operator(nil), running.Operators...), Operator{"log", "sink", 1})
	if got := running.Diff(extra); len(got) != 1 || got[0] != `operator 3: not in the running job, this worker sink "log" (parallelism 1)` {
		t.Fatalf("extra operator: %v", got)
	}
	err = &DefinitionMismatchError{Job: "q5", Differences: running.Diff(extra)}
	if !errors.Is(err, ErrDefinitionMismatch) || !strings.Contains(err.Error(), `job "q5": this worker's definition differs from the running job's: operator 3`) {
		t.Fatalf("error: %v", err)
	}
	if _, err := ParseDefinition([]byte("{")); err == nil {
		t.Fatal("bad stored definition accepted")
	}
}
