package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestScriptBarrierAlignment drives a task's input gate with barriers and
// end of input per channel, as aligned checkpoints deliver them, and shows
// which channels are held back and when the task snapshots. Commands:
//
//	channels N          a task with N input channels
//	barrier CH ID       checkpoint ID's barrier arrives on channel CH
//	end CH              channel CH's input ends
//
// Each prints the snapshots taken (the barrier passing the task's chain)
// and the channels held back afterwards.
func TestScriptBarrierAlignment(t *testing.T) {
	datadriven.Walk(t, "testdata/barrier_alignment", func(t *testing.T, path string) {
		var tk *task
		var got []string
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			got = got[:0]
			switch d.Cmd {
			case "channels":
				tk = newGateTask(int(argInt(t, d, 0)), func(c control) error {
					if c.kind == ctlBarrier {
						got = append(got, fmt.Sprintf("snapshot %d", c.cp.id))
					}
					return nil
				})
				return "ok"
			case "barrier":
				ch, id := int(argInt(t, d, 0)), argInt(t, d, 1)
				if err := tk.onChannelControl(ch, control{kind: ctlBarrier, cp: checkpointBarrier{id: id}}); err != nil {
					return "error: " + err.Error()
				}
			case "end":
				if err := tk.onChannelControl(int(argInt(t, d, 0)), control{kind: ctlEndOfInput}); err != nil {
					return "error: " + err.Error()
				}
			default:
				d.Fatalf(t, "unknown command %s", d.Cmd)
			}
			var held []string
			for i, b := range tk.gate.blocked {
				if b {
					held = append(held, fmt.Sprint(i))
				}
			}
			if len(held) == 0 {
				got = append(got, "held back: none")
			} else {
				got = append(got, "held back: "+strings.Join(held, " "))
			}
			return strings.Join(got, "\n")
		})
	})
}

// newGateTask is a task with n input channels and nothing but a head
// operator whose downstream is down: what the input-gate scripts drive.
func newGateTask(n int, down func(control) error) *task {
	tk := &task{cfg: Config{Clock: RealClock}, lastWm: MinTime, gate: newInputGate(), exec: &execution{}}
	for i := 0; i < n; i++ {
		tk.gate.add(nil, 0)
	}
	tk.head = &opInstance{watermark: MinTime, task: tk, node: &node{name: "head"}}
	tk.insts = []*opInstance{tk.head}
	tk.head.downs = []controlTarget{controlFunc(down)}
	return tk
}
