// Package file writes streams to local files, exactly once.
//
// JSONLines writes each subtask's records as JSON lines into hidden
// in-progress files in a directory. At every checkpoint the subtask closes
// and syncs its file and the file's name goes into the checkpoint; when the
// checkpoint completes the sink's global committer (one per job attempt,
// engine.GlobalCommitSink) renames every subtask's file to its final name
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
// job's next attempt or run (resumed from its checkpoints) commits what its
// restored checkpoint staged and removes the rest before any writer opens.
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

var _ engine.GlobalCommitSink[int] = (*jsonLines[int])(nil)

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
	return &jsonWriter[T]{d: d, dir: s.dir, sub: info.Subtask, run: hex.EncodeToString(id[:])}, nil
}

// NewGlobalCommitter implements engine.GlobalCommitSink: one committer per
// job attempt renames every subtask's staged files at each completed
// checkpoint, and before any writer of the attempt opens it removes the
// in-progress files earlier attempts left (records written after the last
// completed checkpoint, which the job writes again) — whatever subtask or
// parallelism wrote them.
func (s *jsonLines[T]) NewGlobalCommitter(_ context.Context, info engine.CommitterInfo) (engine.GlobalCommitter, error) {
	if s.dir == "" {
		return nil, errors.New("file: JSONLines needs a directory")
	}
	d, err := localdir.Open(s.dir)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	return &committer{d: d, dir: s.dir}, nil
}

type committer struct {
	d   *localdir.Dir
	dir string
}

// Commit renames each staged file to its final name. A file already
// renamed (its in-progress file is gone and the final one exists) is left
// alone; an in-progress file whose final name another file took is an
// error, not silently dropped output.
func (c *committer) Commit(_ context.Context, _ int64, cs []engine.Committable) error {
	for _, e := range cs {
		var m committable
		if err := json.Unmarshal(e.Data, &m); err != nil {
			return fmt.Errorf("file: corrupt committable: %w", err)
		}
		if err := c.d.Commit(m.Tmp, m.Final, false); err != nil {
			if errors.Is(err, localdir.ErrTaken) {
				return fmt.Errorf("file: commit %s: another file took its name in %s", m.Final, c.dir)
			}
			return fmt.Errorf("file: commit %s: %w", m.Final, err)
		}
	}
	return nil
}

// Cleanup removes every in-progress file: called after the restored
// checkpoint's files are committed and before any writer opens, it finds
// only what no checkpoint covers.
func (c *committer) Cleanup(context.Context) error {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".part-s") && strings.HasSuffix(n, ".inprogress") {
			if err := c.d.Remove(n); err != nil {
				return fmt.Errorf("file: %w", err)
			}
		}
	}
	return nil
}

func (c *committer) Close() error { return nil }

// committable names an in-progress file and its final name. For
// Rolling, Tmp is the PartStore's handle of the staged file (a local
// directory's: the hidden file's name, as the JSON-lines sink's).
type committable struct {
	Tmp   string `json:"tmp"`
	Final string `json:"final"`
}

type jsonWriter[T any] struct {
	d   *localdir.Dir
	dir string
	sub int
	run string // distinguishes this writer's in-progress files
	seq int
	f   *localdir.File // the in-progress file; nil between checkpoints
	enc *json.Encoder
	tmp string // its name in dir
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

// Prepare implements engine.StagingWriter: close and sync the current
// file, and name it in the checkpoint.
func (w *jsonWriter[T]) Prepare(checkpointID int64) ([]byte, error) {
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

func (w *jsonWriter[T]) Close() error {
	if w.f == nil {
		return nil
	}
	// Uncommitted: leave the in-progress file for cleanup by the next run.
	return w.closeFile()
}
