// Package file writes streams to local files.
//
// The JSON-lines sink writes each subtask's records to its own part file in
// a directory, one JSON document per line. Its output is at-least-once: a
// job restarted from a checkpoint writes again what it wrote after that
// checkpoint. For exactly-once files, use the Firehose directory destination
// (package connectors/firehose), which commits files with checkpoints.
package file

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/engine"
)

// JSONLines returns a sink that writes records as JSON lines to
// dir/<prefix>-<subtask>.jsonl, creating dir if needed. An existing part
// file is replaced.
func JSONLines[T any](dir, prefix string) engine.Sink[T] {
	return &jsonLines[T]{dir: dir, prefix: prefix}
}

type jsonLines[T any] struct{ dir, prefix string }

func (s *jsonLines[T]) Open(_ context.Context, info engine.SinkInfo) (engine.SinkWriter[T], error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%s-%d.jsonl", s.prefix, info.Subtask))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	return &jsonWriter[T]{f: f, w: w, enc: json.NewEncoder(w), path: path}, nil
}

type jsonWriter[T any] struct {
	f    *os.File
	w    *bufio.Writer
	enc  *json.Encoder
	path string
}

func (w *jsonWriter[T]) Write(b []engine.Record[T]) error {
	for i := range b {
		if err := w.enc.Encode(b[i].Value); err != nil {
			return fmt.Errorf("file: encode a record for %s: %w", w.path, err)
		}
	}
	return nil
}

// EndInput flushes what is buffered when a bounded input ends.
func (w *jsonWriter[T]) EndInput() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("file: %s: %w", w.path, err)
	}
	return nil
}

func (w *jsonWriter[T]) Close() error {
	ferr := w.w.Flush()
	cerr := w.f.Close()
	if ferr != nil {
		return fmt.Errorf("file: %s: %w", w.path, ferr)
	}
	if cerr != nil {
		return fmt.Errorf("file: %s: %w", w.path, cerr)
	}
	return nil
}
