package planner

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/row"
)

// ownershipScript's source rows are recycled (no window): the calc
// releases each input row it does not pass on.
const ownershipScript = `CREATE TABLE src (id BIGINT, v INT, s AS CAST(id AS STRING)) WITH (
  'connector' = 'datagen', 'number-of-rows' = '3000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '2999',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '0', 'fields.v.end' = '2999');
CREATE TABLE snk (id BIGINT, w INT, s STRING) WITH ('connector' = 'print');
INSERT INTO snk SELECT id, v * 2 + 1, s FROM src WHERE id % 3 <> 0;
`

// TestHandedOffRowsStayIntact holds every row the calc emits, as a
// window's state or a buffering sink might, and checks each one after the
// job: a row the source or the calc reused (or mutated) after handing it
// on would show another row's values.
func TestHandedOffRowsStayIntact(t *testing.T) {
	p, err := Plan(ownershipScript)
	if err != nil {
		t.Fatal(err)
	}
	calc := p.inserts[0].root
	if calc.kind != relCalc || calc.inputs[0].kind != relScan {
		t.Fatalf("the plan is not calc over scan")
	}
	j := engine.NewJob("own", engine.Config{StateBackend: "memory", Parallelism: 2})
	s, err := (&insertPlan{src: calc.inputs[0].src}).buildSource(j, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s = engine.Process[*row.Row, *row.Row](s, "calc", &rowProcess{newFn: calc.calc, owns: true})
	var mu sync.Mutex
	var held []*row.Row
	engine.ForEach(s, "hold", func(r *row.Row) error {
		mu.Lock()
		defer mu.Unlock()
		held = append(held, r) // kept, never released
		return nil
	})
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(held) != 2000 {
		t.Fatalf("held %d rows, want 2000", len(held))
	}
	seen := map[int64]bool{}
	for _, r := range held {
		id := r.Int(0)
		if id%3 == 0 || seen[id] || r.Int(1) != 2*id+1 || r.Str(2) != fmt.Sprint(id) {
			t.Fatalf("held row changed after it was emitted: %s", r.AppendJava(nil))
		}
		seen[id] = true
	}
}

// TestRecyclingAcrossGoroutines runs the script with chaining disabled at
// parallelism 2, so rows are released on other goroutines than the ones
// that took them from the recycler (run with -race), and compares the
// output with the chained run's.
func TestRecyclingAcrossGoroutines(t *testing.T) {
	run := func(cfg engine.Config) string {
		p, err := Plan(ownershipScript)
		if err != nil {
			t.Fatal(err)
		}
		j := engine.NewJob("own", cfg)
		var out bytes.Buffer
		if err := p.Build(j, RunOptions{Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		if err := j.Execute(context.Background()); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	chained := run(engine.Config{StateBackend: "memory"})
	unchained := run(engine.Config{StateBackend: "memory", Parallelism: 2, DisableChaining: true})
	if chained != unchained {
		t.Fatal("output differs when rows are released on other goroutines")
	}
	if n := strings.Count(chained, "\n") + 1; n != 2000 {
		t.Fatalf("%d rows, want 2000", n)
	}
	if !strings.Contains(chained, "+I[4, 9, 4]") || strings.Contains(chained, "+I[3, ") {
		t.Fatalf("unexpected rows:\n%.300s", chained)
	}
}

// TestSharedStreamsAreNotRecycled reads one source from several
// consumers (a self-union, and a statement set whose two INSERTs read one
// view, one with no cast before its sink): an operator that released a
// row another consumer of the same stream still holds would corrupt that
// consumer's rows. Each run's output is compared with the rows computed
// here, chained and not.
func TestSharedStreamsAreNotRecycled(t *testing.T) {
	const script = `CREATE TABLE src (id BIGINT, v INT) WITH (
  'connector' = 'datagen', 'number-of-rows' = '3000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '2999',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '0', 'fields.v.end' = '2999');
CREATE VIEW odd AS SELECT id, v + 1 AS w FROM src WHERE id % 2 = 1;
CREATE TABLE a (id BIGINT, w INT) WITH ('connector' = 'print', 'print-identifier' = 'a');
CREATE TABLE b (id BIGINT, w INT) WITH ('connector' = 'print', 'print-identifier' = 'b');
CREATE TABLE u (id BIGINT, w INT) WITH ('connector' = 'print', 'print-identifier' = 'u');
EXECUTE STATEMENT SET BEGIN
INSERT INTO a SELECT id, w FROM odd;
INSERT INTO b SELECT id, w FROM odd WHERE id % 3 = 0;
INSERT INTO u SELECT id, v FROM src WHERE id < 10 UNION ALL SELECT id, v * 10 FROM src WHERE id < 10;
END;
`
	var want []string
	for id := 0; id < 3000; id++ {
		if id%2 == 1 {
			want = append(want, fmt.Sprintf("a> +I[%d, %d]", id, id+1))
			if id%3 == 0 {
				want = append(want, fmt.Sprintf("b> +I[%d, %d]", id, id+1))
			}
		}
		if id < 10 {
			want = append(want, fmt.Sprintf("u> +I[%d, %d]", id, id), fmt.Sprintf("u> +I[%d, %d]", id, id*10))
		}
	}
	slices.Sort(want)
	for _, cfg := range []engine.Config{
		{StateBackend: "memory"},
		{StateBackend: "memory", Parallelism: 2, DisableChaining: true},
	} {
		p, err := Plan(script)
		if err != nil {
			t.Fatal(err)
		}
		j := engine.NewJob("shared", cfg)
		var out bytes.Buffer
		if err := p.Build(j, RunOptions{Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		if err := j.Execute(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSpace(out.String()), "\n")
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("parallelism %d, chaining disabled %v: %d rows, want %d; first rows %q", cfg.Parallelism, cfg.DisableChaining, len(got), len(want), got[:min(5, len(got))])
		}
	}
}
