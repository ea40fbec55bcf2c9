package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestScriptSplitCoordinator drives the split test source's coordinator
// (splits_test.go) through a SplitCoordinatorHarness. Commands:
//
//	dag                      lines "<id> <birth round> [parent,parent...]"
//	start parallelism=N [pull] [checkpointing] [restore]
//	                         a new coordinator (attempt); restore gives it
//	                         the last checkpoint's state and the positions
//	positions                lines "<subtask>/<parallelism> active=<id>@<offset>,... finished=<id>,..."
//	advance <duration>       moves the clock and runs due work
//	finished subtask=S snapshot=N split=ID
//	request subtask=S
//	checkpoint id=N          prints the coordinator's snapshot
//	complete id=N
//
// Every command prints what reached each reader's mailbox, in order.
func TestScriptSplitCoordinator(t *testing.T) {
	datadriven.Walk(t, "testdata/split_coordinator", func(t *testing.T, path string) {
		src := &splitTestSource{dag: &splitDAG{}, interval: time.Second, fail: func(string) error { return nil }}
		var h *SplitCoordinatorHarness[testSplit]
		var lastState []byte
		var positions []SourcePosition
		attempt := 0
		defer func() {
			if h != nil {
				_ = h.Close()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var err error
			var out strings.Builder
			switch d.Cmd {
			case "dag":
				*src.dag = splitDAG{}
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					f := strings.Fields(line)
					if len(f) < 2 || f[0] != strconv.Itoa(len(src.dag.parents)) {
						d.Fatalf(t, "bad split %q (ids count from 0)", line)
					}
					birth, _ := strconv.Atoi(f[1])
					var parents []int
					if len(f) > 2 {
						parents = ints(t, d, f[2])
					}
					src.dag.parents = append(src.dag.parents, parents)
					src.dag.birth = append(src.dag.birth, birth)
					src.dag.rounds = max(src.dag.rounds, birth)
				}
				return "ok"
			case "positions":
				positions = nil
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					positions = append(positions, parsePosition(t, d, line))
				}
				return "ok"
			case "start":
				if h != nil {
					if err := h.Close(); err != nil {
						d.Fatalf(t, "close: %v", err)
					}
					attempt++
				}
				opts := SplitHarnessOptions{Name: "log", Attempt: attempt, Checkpointing: d.HasArg("checkpointing")}
				d.ScanArgs(t, "parallelism", &opts.Parallelism)
				src.pull = d.HasArg("pull")
				if d.HasArg("restore") {
					opts.Restored, opts.RestoredState, opts.RestoredPositions = true, lastState, positions
				}
				h, err = NewSplitCoordinatorHarness(func(ctx *SplitContext[testSplit]) (SplitCoordinator, error) {
					return newTestCoordinator(src, ctx)
				}, opts)
				if err != nil {
					h = nil
				}
			case "advance":
				dur, perr := time.ParseDuration(d.CmdArgs[0].Key)
				if perr != nil {
					d.Fatalf(t, "%v", perr)
				}
				err = h.Advance(dur)
			case "finished":
				var sub, split int
				var snap int64
				d.ScanArgs(t, "subtask", &sub)
				d.ScanArgs(t, "snapshot", &snap)
				d.ScanArgs(t, "split", &split)
				err = h.Event(sub, snap, splitFinished{ID: split})
			case "request":
				var sub int
				d.ScanArgs(t, "subtask", &sub)
				err = h.Event(sub, 0, SplitRequest{})
			case "checkpoint":
				var id int64
				d.ScanArgs(t, "id", &id)
				var st []byte
				if st, err = h.Checkpoint(id); err == nil {
					lastState = st
					fmt.Fprintf(&out, "state %s\n", st)
				}
			case "complete":
				var id int64
				d.ScanArgs(t, "id", &id)
				err = h.Complete(id)
			default:
				d.Fatalf(t, "unknown command %s", d.Cmd)
			}
			if err != nil {
				fmt.Fprintf(&out, "error: %v\n", err)
			}
			if h != nil {
				for s := range h.rt.parallelism {
					for _, m := range h.Take(s) {
						switch {
						case m.NoMoreSplits:
							fmt.Fprintf(&out, "s%d: no more splits\n", s)
						case m.Checkpoint != 0:
							fmt.Fprintf(&out, "s%d: checkpoint %d\n", s, m.Checkpoint)
						default:
							fmt.Fprintf(&out, "s%d: assign", s)
							for _, sp := range m.Splits {
								fmt.Fprintf(&out, " %d@%d", sp.ID, sp.Offset)
							}
							out.WriteString("\n")
						}
					}
				}
			}
			if out.Len() == 0 {
				return "ok"
			}
			return out.String()
		})
	})
}

func ints(t *testing.T, d *datadriven.TestData, s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			d.Fatalf(t, "bad number %q", f)
		}
		out = append(out, n)
	}
	return out
}

// parsePosition parses "<subtask>/<parallelism> active=<id>@<offset>,...
// finished=<id>,..." into a test reader's position.
func parsePosition(t *testing.T, d *datadriven.TestData, line string) SourcePosition {
	f := strings.Fields(line)
	var p SourcePosition
	if len(f) == 0 {
		d.Fatalf(t, "empty position")
	}
	if _, err := fmt.Sscanf(f[0], "%d/%d", &p.Subtask, &p.Parallelism); err != nil {
		d.Fatalf(t, "bad position %q: %v", line, err)
	}
	rp := readerPos{Active: []testSplit{}, Finished: []int{}}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "active":
			for _, a := range strings.Split(v, ",") {
				if a == "" {
					continue
				}
				id, off, _ := strings.Cut(a, "@")
				ids, offs := ints(t, d, id), ints(t, d, off)
				if len(ids) != 1 || len(offs) != 1 {
					d.Fatalf(t, "bad active split %q", a)
				}
				rp.Active = append(rp.Active, testSplit{ID: ids[0], Offset: offs[0]})
			}
		case "finished":
			rp.Finished = ints(t, d, v)
		default:
			d.Fatalf(t, "bad position field %q", kv)
		}
	}
	var err error
	if p.Data, err = json.Marshal(rp); err != nil {
		t.Fatal(err)
	}
	return p
}
