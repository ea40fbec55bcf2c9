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
// checkpoints shows nothing), as with Flink's file sink. Staging and the
// durable rename are connectors/internal/localdir's, the writer the
// Firehose directory destination uses too.
//
// In-progress files are named .part-s<subtask>-<run>-<n>.inprogress, in
// the directory itself: a process killed between staging and commit
// leaves them behind, but never a visible partial or duplicate file. The
// job's next run (resumed from its checkpoints) commits what its restored
// checkpoint staged and removes the rest at its first checkpoint.
//
// A directory serves one job: checkpoint ids restart with fresh checkpoint
// storage, so a second job (or a run that does not resume) would reuse the
// final names of the first. The sink then fails the checkpoint (or the
// commit) with an error naming the file, rather than drop output.
package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connectors/internal/localdir"
	"github.com/sluicehq/sluice/engine"
)

// JSONLines returns an exactly-once sink that writes records as JSON lines
// into dir, creating it if needed.
func JSONLines[T any](dir string) engine.Sink[T] {
	return &jsonLines[T]{dir: dir}
}

type jsonLines[T any] struct{ dir string }

func (s *jsonLines[T]) Open(_ context.Context, info engine.SinkInfo) (engine.SinkWriter[T], error) {
	if s.dir == "" {
		return nil, errors.New("file: JSONLines needs a directory")
	}
	d, err := localdir.Open(s.dir)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	return &jsonWriter[T]{d: d, dir: s.dir, sub: info.Subtask, par: info.Parallelism, run: hex.EncodeToString(id[:])}, nil
}

// committable names an in-progress file and its final name.
type committable struct {
	Tmp   string `json:"tmp"`
	Final string `json:"final"`
}

type jsonWriter[T any] struct {
	d       *localdir.Dir
	dir     string
	sub     int
	par     int    // the job's parallelism of the sink
	run     string // distinguishes this writer's in-progress files
	seq     int
	f       *localdir.File // the in-progress file; nil between checkpoints
	enc     *json.Encoder
	tmp     string // its name in dir
	cleaned bool
}

func (w *jsonWriter[T]) inProgressPrefix() string { return fmt.Sprintf(".part-s%d-", w.sub) }

func (w *jsonWriter[T]) Write(b []engine.Record[T]) error {
	if w.f == nil {
		w.seq++
		w.tmp = fmt.Sprintf("%s%s-%d.inprogress", w.inProgressPrefix(), w.run, w.seq)
		f, err := w.d.Create(w.tmp)
		if err != nil {
			return fmt.Errorf("file: %w", err)
		}
		w.f = f
		w.enc = json.NewEncoder(f)
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
	c := committable{Tmp: w.tmp, Final: fmt.Sprintf("part-c%d-s%d.jsonl", checkpointID, w.sub)}
	// Checkpoint ids only grow within a checkpoint storage, so the final
	// name can exist already only if another job (or a run with fresh
	// checkpoints) wrote into this directory. Fail the checkpoint rather
	// than record a committable that can never be committed.
	if _, err := os.Lstat(filepath.Join(w.dir, c.Final)); err == nil {
		return nil, fmt.Errorf("file: %s already holds %s, from another job or run: write into an empty directory, or resume the job that wrote it", w.dir, c.Final)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("file: %w", err)
	}
	return json.Marshal(c)
}

func (w *jsonWriter[T]) closeFile() error {
	f := w.f
	w.f, w.enc = nil, nil
	if err := f.Close(); err != nil {
		return fmt.Errorf("file: %w", err)
	}
	return nil
}

// cleanStale removes this subtask's in-progress files of earlier runs:
// they hold records written after the last completed checkpoint, which the
// job writes again. Subtask 0 also removes those of subtasks the job no
// longer has (it restarted at a lower parallelism). It runs at the first
// Prepare, after the engine has committed the restored files.
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
		if !strings.HasSuffix(n, ".inprogress") || strings.HasPrefix(n, mine) {
			continue
		}
		if strings.HasPrefix(n, w.inProgressPrefix()) || w.sub == 0 && w.gone(n) {
			if err := w.d.Remove(n); err != nil {
				return fmt.Errorf("file: %w", err)
			}
		}
	}
	return nil
}

// gone reports whether n is the in-progress file of a subtask at or above
// the sink's parallelism.
func (w *jsonWriter[T]) gone(n string) bool {
	rest, ok := strings.CutPrefix(n, ".part-s")
	if !ok {
		return false
	}
	digits, _, ok := strings.Cut(rest, "-")
	sub, err := strconv.Atoi(digits)
	return ok && err == nil && w.par > 0 && sub >= w.par
}

// Commit implements engine.CommittingWriter: rename each file to its final
// name. A file already renamed (its in-progress file is gone and the
// final one exists) is left alone; an in-progress file whose final name
// another file took is an error, not silently dropped output.
func (w *jsonWriter[T]) Commit(cs [][]byte) error {
	for _, b := range cs {
		var c committable
		if err := json.Unmarshal(b, &c); err != nil {
			return fmt.Errorf("file: corrupt committable: %w", err)
		}
		if err := w.d.Commit(c.Tmp, c.Final, false); err != nil {
			if errors.Is(err, localdir.ErrTaken) {
				return fmt.Errorf("file: commit %s: another file took its name in %s", c.Final, w.dir)
			}
			return fmt.Errorf("file: commit %s: %w", c.Final, err)
		}
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
