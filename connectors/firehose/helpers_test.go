package firehose

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

var t0 = time.Date(2024, 3, 9, 14, 5, 6, 0, time.UTC)

// newTestStream returns a stream on a manual clock that a retry's wait
// advances instead of waiting.
func newTestStream(t *testing.T, cfg Config, deps Deps) (*Stream, *clock.Manual, string) {
	t.Helper()
	dir := t.TempDir()
	if cfg.Name == "" {
		cfg.Name = "orders"
	}
	if cfg.S3 == nil && cfg.HTTPEndpoint == nil && cfg.Directory == nil {
		cfg.Directory = &DirectoryConfig{Path: filepath.Join(dir, "out")}
	}
	clk := clock.NewManual(t0)
	clk.AutoAdvance(true)
	deps.Clock = clk
	s, err := New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return s, clk, filepath.Join(dir, "out")
}

// files returns the visible files under root, keyed by slash path.
func files(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	return out
}

func keysOf(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// withPrefix returns the files whose key starts with p.
func withPrefix(m map[string][]byte, p string) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		if strings.HasPrefix(k, p) {
			out[k] = v
		}
	}
	return out
}

// docs parses newline-delimited JSON error documents.
func docs(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("error document %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func rec(s string) Record { return Record{Data: []byte(s)} }

// numberedSink is the sink of the kill and fixture tests: JSON lines into
// store, no buffering interval, no retries.
func numberedSink(t *testing.T, name string, store ObjectStore) *Sink[string] {
	t.Helper()
	cfg := Config{Name: name, Prefix: "data/", Directory: &DirectoryConfig{Path: "unused"}, // Deps.Store
		Format: Format{Type: FormatJSONLines}, Buffering: BufferingHints{IntervalInSeconds: Seconds(0)},
		RetryDurationInSeconds: Seconds(0)}
	sink, err := NewSink[string](cfg, SinkOptions{Deps: Deps{Store: store}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sink
}

// numberedParts returns n JSON records {"n":i} dealt over two partitions.
func numberedParts(n int) [][]string {
	parts := make([][]string, 2)
	for i := 0; i < n; i++ {
		parts[i%2] = append(parts[i%2], fmt.Sprintf(`{"n":%d}`, i))
	}
	return parts
}
