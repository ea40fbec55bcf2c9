package engine

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/sluicehq/sluice/state"
)

// tumblingCount is the function the keyed_process script drives: it counts
// records per key in 10 ms event-time windows, sends records behind the
// watermark to the "late" side output, and says once per key, 100 ms of
// processing time after its first record, that the key is alive.
type tumblingCount struct {
	counts *state.MapState[int64, int64]
	seen   *state.ValueState[bool]
}

var lateTag = NewOutputTag[string]("late")

func (f *tumblingCount) Open(rc *RuntimeContext) error {
	var err error
	if f.counts, err = GetMapState[int64, int64](rc, "counts"); err != nil {
		return err
	}
	f.seen, err = GetValueState[bool](rc, "seen")
	return err
}

func (f *tumblingCount) ProcessElement(v string, ctx *KeyedContext[string, string]) error {
	ts := ctx.Timestamp()
	if ts <= ctx.CurrentWatermark() {
		lateTag.Emit(ctx, v)
		return nil
	}
	end := ts - ts%10 + 9
	n, _, err := f.counts.Get(end)
	if err != nil {
		return err
	}
	if err := f.counts.Put(end, n+1); err != nil {
		return err
	}
	if err := ctx.RegisterEventTimeTimer(end); err != nil {
		return err
	}
	if seen, _, _ := f.seen.Value(); !seen {
		if err := f.seen.Update(true); err != nil {
			return err
		}
		return ctx.RegisterProcessingTimeTimer(ctx.ProcessingTime() + 100)
	}
	return nil
}

func (f *tumblingCount) OnTimer(ts int64, ctx *KeyedContext[string, string]) error {
	if ctx.TimeDomain() == ProcessingTime {
		ctx.Emit(fmt.Sprintf("%s alive", ctx.CurrentKey()))
		return nil
	}
	n, _, err := f.counts.Get(ts)
	if err != nil {
		return err
	}
	ctx.Emit(fmt.Sprintf("%s [%d,%d]=%d", ctx.CurrentKey(), ts-9, ts, n))
	return f.counts.Remove(ts)
}

func TestScriptKeyedProcess(t *testing.T) {
	datadriven.Walk(t, "testdata/keyed_process", func(t *testing.T, path string) {
		var h *Harness[string, string]
		defer func() {
			if h != nil {
				h.Close()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if h == nil {
				var err error
				h, err = NewKeyedProcessHarness(func(v string) string { return v }, KeyedProcessFunction[string, string, string](&tumblingCount{}), HarnessOptions{})
				if err != nil {
					t.Fatal(err)
				}
			}
			var err error
			switch d.Cmd {
			case "element":
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					var key string
					var ts int64
					if _, err := fmt.Sscanf(line, "%s %d", &key, &ts); err != nil {
						d.Fatalf(t, "bad element %q: %v", line, err)
					}
					if err = h.ProcessElement(key, ts); err != nil {
						break
					}
				}
			case "watermark":
				err = h.ProcessWatermark(argInt(t, d, 0))
			case "proctime":
				err = h.SetProcessingTime(argInt(t, d, 0))
			case "end":
				err = h.EndInput()
			default:
				d.Fatalf(t, "unknown command %s", d.Cmd)
			}
			if err != nil {
				return "error: " + err.Error()
			}
			var b strings.Builder
			for _, r := range h.Output() {
				fmt.Fprintf(&b, "out %s @%s\n", r.Value, fmtTime(r.Time))
			}
			for _, r := range SideOutputOf(h, lateTag) {
				fmt.Fprintf(&b, "late %v @%s\n", r.Value, fmtTime(r.Time))
			}
			for _, wm := range h.Watermarks() {
				fmt.Fprintf(&b, "watermark %s\n", fmtTime(wm))
			}
			h.ClearOutput()
			if b.Len() == 0 {
				return "ok"
			}
			return b.String()
		})
	})
}

func fmtTime(ts int64) string {
	switch ts {
	case MaxTime:
		return "max"
	case NoTimestamp:
		return "none"
	}
	return strconv.FormatInt(ts, 10)
}

func argInt(t *testing.T, d *datadriven.TestData, i int) int64 {
	if len(d.CmdArgs) <= i {
		d.Fatalf(t, "%s needs an argument", d.Cmd)
	}
	s := d.CmdArgs[i].Key
	if s == "max" {
		return MaxTime
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.Fatalf(t, "bad number %q", s)
	}
	return v
}

// TestScriptWatermarkValve drives a task's input gate with control events
// per channel and shows the watermarks and idleness it passes on.
func TestScriptWatermarkValve(t *testing.T) {
	datadriven.Walk(t, "testdata/watermark_valve", func(t *testing.T, path string) {
		var tk *task
		var got []string
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			got = got[:0]
			switch d.Cmd {
			case "channels":
				tk = newGateTask(int(argInt(t, d, 0)), func(c control) error {
					switch c.kind {
					case ctlWatermark:
						got = append(got, "watermark "+fmtTime(c.wm))
					case ctlIdle:
						got = append(got, "idle")
					case ctlActive:
						got = append(got, "active")
					}
					return nil
				})
				return "ok"
			case "wm", "idle", "active", "end":
				ch := int(argInt(t, d, 0))
				c := control{}
				switch d.Cmd {
				case "wm":
					c = control{kind: ctlWatermark, wm: argInt(t, d, 1)}
				case "idle":
					c = control{kind: ctlIdle}
				case "active":
					c = control{kind: ctlActive}
				case "end":
					c = control{kind: ctlEndOfInput}
				}
				if err := tk.onChannelControl(ch, c); err != nil {
					return "error: " + err.Error()
				}
				if tk.gate.nEnded == len(tk.gate.channels) {
					if err := tk.finish(); err != nil {
						return "error: " + err.Error()
					}
				}
			default:
				d.Fatalf(t, "unknown command %s", d.Cmd)
			}
			if len(got) == 0 {
				return "nothing"
			}
			return strings.Join(got, "\n")
		})
	})
}
