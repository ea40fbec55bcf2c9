package state

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/durable"
)

// Snapshotter is a Store that can be checkpointed.
type Snapshotter interface {
	// Snapshot captures the store's current contents (the caller has called
	// Flush). It must be quick — the task is paused while it runs — and
	// returns a function that writes the captured image into dir (which must
	// not exist yet). The returned function may run on another goroutine
	// while the store keeps being written; it returns the files it wrote.
	Snapshot() (write func(dir string) ([]string, error), err error)
}

// The formats of snapshot directories.
const (
	// SnapshotFormatPebble is a Pebble checkpoint (sstables hard-linked from
	// the store, copies of its manifest and unflushed WAL) plus the file
	// PebbleSnapshotManifest that lists every file with its size and
	// CRC-32C. A PebbleStore writes it.
	SnapshotFormatPebble = "pebble"
	// SnapshotFormatFile is one portable snapshot file, SnapshotFileName (see
	// snapshotfile.go for the layout). A MemStore writes it, and any Store
	// can be written to it with WriteSnapshotFile (savepoints).
	SnapshotFormatFile = "file"
)

// SnapshotPart is one subtask's snapshot in a checkpoint.
type SnapshotPart struct {
	Dir       string        // as written by Snapshot's write func, or a savepoint file's dir
	Format    string        // "pebble" or "file"; empty: detected from Dir's contents
	KeyGroups KeyGroupRange // the key groups the subtask owned
}

// SnapshotterFor returns the Snapshotter of s and the format it writes:
// a PebbleStore is its own (SnapshotFormatPebble); a MemStore's is
// MemStore.Snapshotter (SnapshotFormatFile), because MemStore.Snapshot
// already names its O(1) clone. Other stores are checked for the
// Snapshotter interface and a SnapshotFormat() string method.
func SnapshotterFor(s Store) (Snapshotter, string, error) {
	var sn Snapshotter
	switch st := s.(type) {
	case *MemStore:
		sn = st.Snapshotter()
	case Snapshotter:
		sn = st
	default:
		return nil, "", fmt.Errorf("state: %T cannot be snapshotted", s)
	}
	f, ok := sn.(interface{ SnapshotFormat() string })
	if !ok {
		return nil, "", fmt.Errorf("state: %T does not name its snapshot format", sn)
	}
	return sn, f.SnapshotFormat(), nil
}

// DetectSnapshotFormat tells the format of the snapshot in dir from the
// files in it.
func DetectSnapshotFormat(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, PebbleSnapshotManifest)); err == nil {
		return SnapshotFormatPebble, nil
	}
	if _, err := os.Stat(filepath.Join(dir, SnapshotFileName)); err == nil {
		return SnapshotFormatFile, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return "", &SnapshotError{Path: dir, Offset: -1, Reason: fmt.Sprintf("snapshot directory is missing (%v)", err)}
	}
	return "", &SnapshotError{Path: dir, Offset: -1, Reason: fmt.Sprintf("no snapshot in the directory (neither %s nor %s): incomplete or not a snapshot", PebbleSnapshotManifest, SnapshotFileName)}
}

// MemSnapshotter snapshots a MemStore: Snapshot clones the store's
// copy-on-write B-tree in O(1), and the write function writes the clone into
// a portable snapshot file while the store keeps being written.
type MemSnapshotter struct{ m *MemStore }

// Snapshotter returns the store's Snapshotter.
func (m *MemStore) Snapshotter() *MemSnapshotter { return &MemSnapshotter{m} }

// SnapshotFormat returns SnapshotFormatFile.
func (*MemSnapshotter) SnapshotFormat() string { return SnapshotFormatFile }

// Snapshot implements Snapshotter. The write function may be called once.
func (ms *MemSnapshotter) Snapshot() (func(dir string) ([]string, error), error) {
	if ms.m.closed {
		return nil, ErrClosed
	}
	clone := ms.m.Snapshot()
	var used atomic.Bool
	return func(dir string) ([]string, error) {
		if used.Swap(true) {
			return nil, errors.New("state: snapshot written twice")
		}
		if err := createSnapshotDir(dir); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, SnapshotFileName)
		err := writeFullSnapshotFile(path, clone)
		if err == nil {
			err = syncDirAndParent(dir)
		}
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		return []string{path}, nil
	}, nil
}

// allKeyGroups is the range of every possible key group.
var allKeyGroups = KeyGroupRange{Start: 0, End: MaxMaxParallelism - 1}

// writeFullSnapshotFile writes every key of s; a key that does not start
// with a valid key group is an error rather than silently left out.
func writeFullSnapshotFile(path string, s Store) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("state: snapshot file: %w", err)
	}
	_, err = writeSnapshotFileScan(f, s, allKeyGroups, nil, nil)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state: write snapshot file %s: %w", path, err)
	}
	return nil
}

// createSnapshotDir creates dir, which must not exist, and its parents.
func createSnapshotDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	return nil
}

// syncDirAndParent makes dir's entries and dir's own entry durable.
func syncDirAndParent(dir string) error {
	if err := durable.SyncDirAndParent(dir); err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	return nil
}

// NewMemStoreFrom does the same for a MemStore.
//
// It returns a MemStore holding exactly the state of key groups want, from
// the parts that overlap it (written at any parallelism, in either format).
// The parts that overlap want must not overlap each other and must together
// cover want.
func NewMemStoreFrom(parts []SnapshotPart, want KeyGroupRange) (*MemStore, error) {
	rel, err := relevantParts(parts, want)
	if err != nil {
		return nil, err
	}
	m := NewMemStore()
	for _, p := range rel {
		err := scanPart(p, p.KeyGroups.Intersect(want), "", func(k, v []byte) error {
			m.t.ReplaceOrInsert(append([]byte(nil), k...), append(make([]byte, 0, len(v)), v...))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ExportSnapshot writes the state of key groups want, read from the parts
// that overlap it (any formats, any parallelism), into a new portable
// snapshot directory dir (SnapshotFormatFile) and returns the files it
// wrote. The parts are verified as by a restore. It does not touch any
// store, so it may run in the background: a savepoint can be a Pebble
// snapshot (a short pause) exported to the portable format afterwards.
func ExportSnapshot(parts []SnapshotPart, want KeyGroupRange, dir string) ([]string, error) {
	rel, err := relevantParts(parts, want)
	if err != nil {
		return nil, err
	}
	if err := createSnapshotDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, SnapshotFileName)
	if err := exportSnapshot(rel, want, path); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := syncDirAndParent(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return []string{path}, nil
}

func exportSnapshot(rel []SnapshotPart, want KeyGroupRange, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("state: export snapshot: %w", err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 256<<10)
	sw, err := NewSnapshotFileWriter(bw, want)
	if err != nil {
		return err
	}
	// The parts are sorted by key group and disjoint, and key groups lead
	// the keys, so their entries arrive in key order.
	for _, p := range rel {
		if err := scanPart(p, p.KeyGroups.Intersect(want), "", sw.Add); err != nil {
			return err
		}
	}
	if _, err := sw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("state: export snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("state: export snapshot: %w", err)
	}
	return f.Close()
}

// relevantParts checks the parts against want and returns those that
// overlap it, with their formats filled in, sorted by key group.
func relevantParts(parts []SnapshotPart, want KeyGroupRange) ([]SnapshotPart, error) {
	if want.Start < 0 || want.End >= MaxMaxParallelism || want.Len() == 0 {
		return nil, fmt.Errorf("state: restore: key-group range %v invalid", want)
	}
	var rel []SnapshotPart
	for _, p := range parts {
		if p.KeyGroups.Start < 0 || p.KeyGroups.End >= MaxMaxParallelism || p.KeyGroups.Len() == 0 {
			return nil, fmt.Errorf("state: restore: part %s: key-group range %v invalid", p.Dir, p.KeyGroups)
		}
		if p.KeyGroups.Intersect(want).Len() == 0 {
			continue
		}
		detected, err := DetectSnapshotFormat(p.Dir)
		if err != nil {
			return nil, fmt.Errorf("state: restore: %w", err)
		}
		switch {
		case p.Format == "":
			p.Format = detected
		case p.Format != SnapshotFormatPebble && p.Format != SnapshotFormatFile:
			return nil, fmt.Errorf("state: restore: part %s: unknown snapshot format %q", p.Dir, p.Format)
		case p.Format != detected:
			return nil, fmt.Errorf("state: restore: part %s: declared format %q, the directory holds %q", p.Dir, p.Format, detected)
		}
		rel = append(rel, p)
	}
	slices.SortFunc(rel, func(a, b SnapshotPart) int { return a.KeyGroups.Start - b.KeyGroups.Start })
	next := want.Start
	for _, p := range rel {
		ov := p.KeyGroups.Intersect(want)
		if ov.Start < next {
			return nil, fmt.Errorf("state: restore: parts overlap at key group %d (part %s covers %v)", ov.Start, p.Dir, p.KeyGroups)
		}
		if ov.Start > next {
			return nil, fmt.Errorf("state: restore: no snapshot part covers key groups %v", KeyGroupRange{Start: next, End: ov.Start - 1})
		}
		next = ov.End + 1
	}
	if next <= want.End {
		return nil, fmt.Errorf("state: restore: no snapshot part covers key groups %v", KeyGroupRange{Start: next, End: want.End})
	}
	return rel, nil
}

// scanPart calls fn for each entry of part p in key groups r, in key order.
// A Pebble part is verified, then opened read-only through hard links in a
// temporary directory under tmpParent (the system's if empty), so that the
// snapshot itself is never touched.
func scanPart(p SnapshotPart, r KeyGroupRange, tmpParent string, fn func(k, v []byte) error) error {
	switch p.Format {
	case SnapshotFormatFile:
		_, err := ReadSnapshotFile(filepath.Join(p.Dir, SnapshotFileName), r, fn)
		if err != nil {
			return fmt.Errorf("state: restore: %w", err)
		}
		return nil
	case SnapshotFormatPebble:
		return scanPebblePart(p.Dir, r, tmpParent, fn)
	}
	return fmt.Errorf("state: restore: part %s: unknown snapshot format %q", p.Dir, p.Format)
}
