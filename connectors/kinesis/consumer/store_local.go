package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/sluicehq/sluice/internal/durable"
)

// LocalStore is a lease table in a directory, shared by the processes of
// one machine: the table is one JSON file (leases.json), replaced
// atomically and durably through internal/durable, and every read-modify-
// write holds an exclusive flock on the directory's lock file. A process
// killed while holding the lock drops it (the kernel releases flocks on
// exit), and a write interrupted by a crash leaves the old table.
//
// Why not bbolt: a bbolt file is locked by one process for as long as it
// is open, so several consumer processes would have to open and close the
// database around each operation — a file lock and an atomic replace is
// the same thing with no dependency. The table is small (one row per
// shard), so rewriting it whole costs little next to the fsyncs both need.
type LocalStore struct {
	dir  string
	lock string
	file string
}

// localTable is leases.json.
type localTable struct {
	// Revision is the last revision given to a row: a row's revision is
	// the table's revision when the row was last written.
	Revision int64           `json:"revision"`
	Leases   []localLeaseRow `json:"leases"`
}

type localLeaseRow struct {
	Lease
	Revision int64 `json:"revision"`
}

// OpenLocalStore opens (creating it if needed) the lease table in dir.
func OpenLocalStore(dir string) (*LocalStore, error) {
	if dir == "" {
		return nil, errors.New("local lease store: no directory given")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local lease store: %w", err)
	}
	s := &LocalStore{dir: dir, lock: filepath.Join(dir, "lock"), file: filepath.Join(dir, "leases.json")}
	f, err := os.OpenFile(s.lock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("local lease store: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("local lease store: %w", err)
	}
	return s, nil
}

// withLock runs fn on the table under the directory's lock (shared when
// the table is only read); fn returns whether it changed the table.
func (s *LocalStore) withLock(ctx context.Context, exclusive bool, fn func(t *localTable) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.OpenFile(s.lock, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("local lease store: %w", err)
	}
	defer f.Close()
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("local lease store: lock %s: %w", s.lock, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing the file unlocks too
	var t localTable
	b, err := os.ReadFile(s.file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("local lease store: %w", err)
	default:
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("local lease store: %s is not a lease table: %w", s.file, err)
		}
	}
	changed, err := fn(&t)
	if err != nil || !changed {
		return err
	}
	b, err = json.Marshal(&t)
	if err != nil {
		return fmt.Errorf("local lease store: %w", err)
	}
	if err := durable.WriteFile(s.file, b, 0o644); err != nil {
		return fmt.Errorf("local lease store: write %s: %w", s.file, err)
	}
	return nil
}

// List implements LeaseStore.
func (s *LocalStore) List(ctx context.Context) ([]Lease, error) {
	var out []Lease
	err := s.withLock(ctx, false, func(t *localTable) (bool, error) {
		for _, r := range t.Leases {
			l := r.Lease
			l.Revision = r.Revision
			out = append(out, l)
		}
		return false, nil
	})
	return out, err
}

// Create implements LeaseStore.
func (s *LocalStore) Create(ctx context.Context, l Lease) (Lease, error) {
	err := s.withLock(ctx, true, func(t *localTable) (bool, error) {
		for _, r := range t.Leases {
			if r.ShardID == l.ShardID {
				return false, fmt.Errorf("create lease of %s: %w", l.ShardID, ErrLeaseExists)
			}
		}
		t.Revision++
		l.Revision = t.Revision
		t.Leases = append(t.Leases, localLeaseRow{Lease: l, Revision: l.Revision})
		sort.Slice(t.Leases, func(i, j int) bool { return t.Leases[i].ShardID < t.Leases[j].ShardID })
		return true, nil
	})
	return l, err
}

// Update implements LeaseStore.
func (s *LocalStore) Update(ctx context.Context, l Lease) (Lease, error) {
	err := s.withLock(ctx, true, func(t *localTable) (bool, error) {
		for i, r := range t.Leases {
			if r.ShardID != l.ShardID {
				continue
			}
			if r.Revision != l.Revision {
				return false, fmt.Errorf("update lease of %s: %w", l.ShardID, ErrRevisionChanged)
			}
			t.Revision++
			l.Revision = t.Revision
			t.Leases[i] = localLeaseRow{Lease: l, Revision: l.Revision}
			return true, nil
		}
		return false, fmt.Errorf("update lease of %s: %w", l.ShardID, ErrLeaseNotFound)
	})
	return l, err
}

// Close implements LeaseStore.
func (s *LocalStore) Close() error { return nil }
