package consumer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckerCatchesViolations: the Show test's checker fails each broken
// promise it is meant to catch (so that its passes mean something).
func TestCheckerCatchesViolations(t *testing.T) {
	tr := &streamTruth{
		order: []string{"a", "b", "c"},
		records: map[string][]string{
			"a": {"1 k/0", "2 k/1", "3 j/0"},
			"b": {"4 k/2"},
			"c": {"5 j/1"},
		},
		parents: map[string][]string{"b": {"a"}, "c": {"a"}},
		closed:  map[string]bool{"a": true},
	}
	good := `I w1 a TRIM_HORIZON
P w1 a 1 k/0
P w1 a 2 k/1
C w1 a 2
P w1 a 3 j/0
E w1 a
C w1 a SHARD_END
I w2 b TRIM_HORIZON
P w2 b 4 k/2
I w1 c TRIM_HORIZON
P w1 c 5 j/1
S w1 c
C w1 c 5
S w2 b
C w2 b 4
`
	for _, tc := range []struct {
		name, log string
		killed    string
		want      string
	}{
		{"good", good, "", ""},
		{"missing record", strings.Replace(good, "P w1 c 5 j/1\n", "", 1), "", "never processed"},
		{"out of order", strings.Replace(good, "P w1 a 1 k/0\nP w1 a 2 k/1\n", "P w1 a 2 k/1\nP w1 a 1 k/0\n", 1), "", "order or contiguity broken"},
		{"child before parent end", strings.Replace(good, "I w2 b TRIM_HORIZON\nP w2 b 4 k/2\n", "", 1) + "I w2 b TRIM_HORIZON\n", "", "never processed"},
		{"child early", "I w2 b TRIM_HORIZON\nP w2 b 4 k/2\n" + good, "", "before its parent a ended"},
		{"again past a checkpoint", good + "I w3 a 1\nP w3 a 2 k/1\n", "", "at or before a checkpoint"},
		{"duplicate after a clean end", good + "I w3 c 5\n", "", ""},
		{"duplicate without a lost lease", strings.Replace(good, "S w1 c\nC w1 c 5\n", "S w1 c\n", 1) + "I w3 c TRIM_HORIZON\nP w3 c 5 j/1\n", "", "did not lose its lease"},
		{"duplicate after a kill", strings.Replace(good, "S w1 c\nC w1 c 5\n", "", 1) + "I w3 c TRIM_HORIZON\nP w3 c 5 j/1\n", "w1", ""},
		{"duplicate after lease lost", strings.Replace(good, "S w1 c\nC w1 c 5\n", "L w1 c\n", 1) + "I w3 c TRIM_HORIZON\nP w3 c 5 j/1\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events")
			if err := os.WriteFile(path, []byte(tc.log), 0o644); err != nil {
				t.Fatal(err)
			}
			var got []string
			pl := readEventLog(t, path)
			pl.check(func(f string, a ...any) { got = append(got, fmt.Sprintf(f, a...)) }, tr, map[string]bool{tc.killed: tc.killed != ""})
			if tc.want == "" {
				if len(got) > 0 {
					t.Fatalf("errors on a good log: %v", got)
				}
				return
			}
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Fatalf("errors %v, want one saying %q", got, tc.want)
			}
		})
	}
}
