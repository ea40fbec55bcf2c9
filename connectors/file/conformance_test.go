package file_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
)

// TestConformance runs the suite every two-phase-commit sink runs.
func TestConformance(t *testing.T) {
	conformance.RunSink(t, conformance.Sink{
		Attach: func(t *testing.T, s *engine.Stream[conformance.Rec], dir string) {
			engine.SinkTo(s, "files", file.JSONLines[conformance.Rec](dir))
		},
		Committed: func(t *testing.T, dir string) []conformance.Rec {
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var out []conformance.Rec
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
					continue // in progress, never visible
				}
				f, err := os.Open(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					var r conformance.Rec
					if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
						t.Fatalf("%s: %v", e.Name(), err)
					}
					out = append(out, r)
				}
				f.Close()
				if err := sc.Err(); err != nil {
					t.Fatal(err)
				}
			}
			return out
		},
	})
}
