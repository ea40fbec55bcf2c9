package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestAssignScript runs testdata/assign: each "assign" places the
// parallelism on the members listed one per line as "id slots", after the
// previous command's assignment (a "reset" forgets it), and prints each
// member's subtasks with their key groups and the key groups moved.
func TestAssignScript(t *testing.T) {
	var prev *Assignment
	datadriven.RunTest(t, "testdata/assign", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "reset":
			prev = nil
			return ""
		case "assign":
			var p, maxP int
			d.ScanArgs(t, "parallelism", &p)
			d.ScanArgs(t, "max", &maxP)
			var ms []Member
			for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
				f := strings.Fields(line)
				if len(f) != 2 {
					d.Fatalf(t, "member line %q: want \"id slots\"", line)
				}
				n, err := strconv.Atoi(f[1])
				if err != nil {
					d.Fatalf(t, "member line %q: %v", line, err)
				}
				ms = append(ms, Member{ID: f[0], Slots: n})
			}
			a, err := Assign(prev, ms, p, maxP)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			var b strings.Builder
			fmt.Fprintf(&b, "attempt %d\n", a.Attempt)
			for _, m := range ms {
				fmt.Fprintf(&b, "%s:", m.ID)
				for _, i := range a.Of(m.ID) {
					fmt.Fprintf(&b, " %d%s", i, a.Subtasks[i].KeyGroups)
				}
				b.WriteString("\n")
			}
			if prev != nil {
				fmt.Fprintf(&b, "moved %d of %d key groups\n", maxP-kept(prev, a), maxP)
			}
			prev = &a
			return b.String()
		}
		d.Fatalf(t, "unknown command %q", d.Cmd)
		return ""
	})
}
