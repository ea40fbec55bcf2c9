// Package file writes streams to local files, exactly once.
//
// JSONLines writes each subtask's records as JSON lines into hidden
// in-progress files in a directory. At every checkpoint the subtask closes
// and syncs its file and the file's name goes into the checkpoint; when the
// checkpoint completes the file is renamed to its final name
// part-c<checkpoint>-s<subtask>.jsonl, which readers see. After a failure
// the job restarts from its last completed checkpoint: files committed
// before stay, files written after it are never renamed and are removed, so
// every record lands in exactly one visible file. Without checkpoints, the
// files are committed when a bounded input ends (an unbounded job without
// checkpoints shows nothing), as with Flink's file sink.
package file

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"crypto/rand"
	"encoding/hex"

	"github.com/sluicehq/sluice/engine"
)

// JSONLines returns an exactly-once sink that writes records as JSON lines
// into dir, creating it if needed.
func JSONLines[T any](dir string) engine.Sink[T] {
	return &jsonLines[T]{dir: dir}
}

type jsonLines[T any] struct{ dir string }

func (s *jsonLines[T]) Open(_ context.Context, info engine.SinkInfo) (engine.SinkWriter[T], error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	return &jsonWriter[T]{dir: s.dir, sub: info.Subtask, run: hex.EncodeToString(id[:])}, nil
}

// committable names an in-progress file and its final name.
type committable struct {
	Tmp   string `json:"tmp"`
	Final string `json:"final"`
}

type jsonWriter[T any] struct {
	dir     string
	sub     int
	run     string // distinguishes this writer's in-progress files
	seq     int
	f       *os.File
	w       *bufio.Writer
	enc     *json.Encoder
	tmp     string
	cleaned bool
}

func (w *jsonWriter[T]) inProgressPrefix() string { return fmt.Sprintf(".part-s%d-", w.sub) }

func (w *jsonWriter[T]) Write(b []engine.Record[T]) error {
	if w.f == nil {
		w.seq++
		w.tmp = filepath.Join(w.dir, fmt.Sprintf("%s%s-%d.inprogress", w.inProgressPrefix(), w.run, w.seq))
		f, err := os.Create(w.tmp)
		if err != nil {
			return fmt.Errorf("file: %w", err)
		}
		w.f = f
		w.w = bufio.NewWriterSize(f, 1<<16)
		w.enc = json.NewEncoder(w.w)
	}
	for i := range b {
		if err := w.enc.Encode(b[i].Value); err != nil {
			return fmt.Errorf("file: encode a record for %s: %w", w.tmp, err)
		}
	}
	return nil
}

// Prepare implements engine.CommittingWriter: close and sync the current
// file, and name it in the checkpoint.
func (w *jsonWriter[T]) Prepare(checkpointID int64) ([]byte, error) {
	if err := w.cleanStale(); err != nil {
		return nil, err
	}
	if w.f == nil {
		return nil, nil
	}
	if err := w.closeFile(); err != nil {
		return nil, err
	}
	c := committable{Tmp: filepath.Base(w.tmp), Final: fmt.Sprintf("part-c%d-s%d.jsonl", checkpointID, w.sub)}
	return json.Marshal(c)
}

func (w *jsonWriter[T]) closeFile() error {
	f := w.f
	w.f = nil
	if err := w.w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("file: %s: %w", w.tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("file: %s: %w", w.tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("file: %s: %w", w.tmp, err)
	}
	return nil
}

// cleanStale removes this subtask's in-progress files of earlier runs:
// they hold records written after the last completed checkpoint, which the
// job writes again. It runs at the first Prepare, after the engine has
// committed the restored files.
func (w *jsonWriter[T]) cleanStale() error {
	if w.cleaned {
		return nil
	}
	w.cleaned = true
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	mine := w.inProgressPrefix() + w.run + "-"
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, w.inProgressPrefix()) && !strings.HasPrefix(n, mine) && strings.HasSuffix(n, ".inprogress") {
			if err := os.Remove(filepath.Join(w.dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("file: %w", err)
			}
		}
	}
	return nil
}

// Commit implements engine.CommittingWriter: rename each file to its final
// name; a file already renamed is left alone.
func (w *jsonWriter[T]) Commit(cs [][]byte) error {
	for _, b := range cs {
		var c committable
		if err := json.Unmarshal(b, &c); err != nil {
			return fmt.Errorf("file: corrupt committable: %w", err)
		}
		tmp, final := filepath.Join(w.dir, c.Tmp), filepath.Join(w.dir, c.Final)
		if _, err := os.Stat(final); err == nil {
			continue
		}
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("file: commit %s: %w", c.Final, err)
		}
	}
	return syncDir(w.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("file: sync %s: %w", dir, err)
	}
	return nil
}

func (w *jsonWriter[T]) Close() error {
	if w.f == nil {
		return nil
	}
	// Uncommitted: leave the in-progress file for cleanup by the next run.
	return w.closeFile()
}
