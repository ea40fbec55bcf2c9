package state

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// PebbleOptions configure a PebbleStore.
type PebbleOptions struct {
	// CacheBytes is the size of Pebble's block cache. Default 64 MiB. The
	// Backend's write-back cache of decoded values sits in front of it, so
	// this cache only serves the misses of that one.
	CacheBytes int64
	// MemTableBytes is the size of one memtable. Default 4 MiB. Up to four
	// memtables' worth of write-ahead log is copied by the synchronous part
	// of every snapshot (see Snapshot), so this trades the snapshot pause
	// against the number of small L0 files that flushes produce: with
	// 16 MiB the pause's tail was four times as long on our test machine.
	MemTableBytes int64
	// BatchBytes bounds the indexed batch that buffers writes: once the
	// batch grows past it, it is committed to the database. Default 1 MiB.
	// Reads and scans see the batch merged with the database, so the bound
	// only trades commit overhead against the cost of reads in a large
	// batch.
	BatchBytes int
	// Logger receives Pebble's log messages. Default: informational
	// messages are dropped, errors go to the standard library's log
	// package, and fatal errors (a corrupt database) end the process, as
	// Pebble's default logger does.
	Logger pebble.Logger
}

// EnsureDefaults fills in the defaults of unset fields.
func (o *PebbleOptions) EnsureDefaults() {
	if o.CacheBytes == 0 {
		o.CacheBytes = 64 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 4 << 20
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = quietLogger{}
	}
}

// Validate reports whether the options are usable.
func (o *PebbleOptions) Validate() error {
	switch {
	case o.CacheBytes < 0:
		return fmt.Errorf("state: PebbleOptions.CacheBytes %d is negative", o.CacheBytes)
	case o.MemTableBytes < 1<<20 || o.MemTableBytes > 1<<30:
		return fmt.Errorf("state: PebbleOptions.MemTableBytes %d out of range [1 MiB, 1 GiB]", o.MemTableBytes)
	case o.BatchBytes < 1 || o.BatchBytes > 1<<30:
		return fmt.Errorf("state: PebbleOptions.BatchBytes %d out of range [1, 1 GiB]", o.BatchBytes)
	}
	return nil
}

// quietLogger drops Pebble's informational messages (one per flush and
// compaction) and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)              {}
func (quietLogger) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }
func (quietLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }

// Pebble returns the Pebble options a PebbleStore opens its database with
// (defaults filled in), for tools and benchmarks that use Pebble directly
// beside a PebbleStore.
func (o PebbleOptions) Pebble() *pebble.Options {
	o.EnsureDefaults()
	return o.pebbleOptions()
}

func (o *PebbleOptions) pebbleOptions() *pebble.Options {
	po := &pebble.Options{
		CacheSize:          o.CacheBytes,
		MemTableSize:       uint64(o.MemTableBytes),
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             o.Logger,
		// The WAL stays on, without a sync per write: a Pebble checkpoint
		// captures the memtables only through the WAL, so without it every
		// snapshot would have to flush the memtable inside the task's pause.
		// Durability comes from snapshots, not from the working directory:
		// commits do not sync, and stateFS skips syncs altogether.
		FS: stateFS{vfs.Default},
		// Four memtables before writes stall (Pebble's default is two), so
		// that a burst of cache evictions or a checkpoint's flush rarely
		// waits for a memtable flush.
		MemTableStopWritesThreshold: 4,
		// A checkpoint copies the manifest; keep it small.
		MaxManifestFileSize: 8 << 20,
	}
	// Bloom filters (10 bits per key, about 1% false positives) on every
	// level: a cache miss of a keyed operator is often a key the store has
	// never seen, and without a filter its Get searches every level's
	// index and data blocks.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	po.Levels[0].FilterType = pebble.TableFilter
	po.EnsureDefaults()
	return po
}

// stateFS is the file system of a PebbleStore's database: the operating
// system's, except that syncs do nothing. The working directory of a store
// is not meant to be durable; its snapshots are. Skipping syncs keeps disk
// flushes out of the task's snapshot pause (the checkpoint's WAL push, its
// directory and file syncs) and out of flushes and compactions, whose
// manifest syncs a checkpoint would otherwise wait for. The snapshot's
// write function syncs every file it keeps, off the task's goroutine (an
// sstable once: snapshots share them by hard links).
//
// A process that dies leaves its writes in the kernel's page cache, so a
// store reopened after a crash of the process alone is consistent. After a
// crash of the machine it may not be: restore from a snapshot, which is
// what recovery does anyway.
type stateFS struct{ vfs.FS }

func (fs stateFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return noSync(fs.FS.Create(name, c))
}

func (fs stateFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return noSync(fs.FS.OpenReadWrite(name, c, opts...))
}

func (fs stateFS) OpenDir(name string) (vfs.File, error) { return noSync(fs.FS.OpenDir(name)) }

func (fs stateFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return noSync(fs.FS.ReuseForWrite(oldname, newname, c))
}

func noSync(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

// noSyncFile is a file whose syncs do nothing (see stateFS).
type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error                { return nil }
func (noSyncFile) SyncData() error            { return nil }
func (noSyncFile) SyncTo(int64) (bool, error) { return false, nil }

// PebbleStore is a Store on a Pebble database in a local directory.
//
// Writes go to an indexed batch that reads and scans see merged with the
// database (read-your-writes); the batch is committed when it grows past
// PebbleOptions.BatchBytes and on Flush. Nothing is synced to disk per
// write: a PebbleStore's working directory is not a durable copy of the
// state, its snapshots are. After a crash, restore from a snapshot
// (OpenPebbleFrom) rather than reopening the working directory.
//
// A PebbleStore belongs to one goroutine, the task that owns it, and is not
// safe for concurrent use; the only exception is the write function that
// Snapshot returns, which may run on another goroutine while the store is
// used. Pebble itself runs background goroutines (flushes, compactions),
// which Close stops.
type PebbleStore struct {
	dir   string // the store's root: db/ and staging/ inside it
	opts  PebbleOptions
	popts *pebble.Options
	db    *pebble.DB
	batch *pebble.Batch

	// pit is the point-read iterator (see Get); pitCount is the batch's
	// count when pit last saw it, pitReads the reads it has served.
	pit      *pebble.Iterator
	pitCount uint32
	pitReads int

	closed bool
	seq    int // staging directory counter

	// snaps tracks the snapshots whose write function has not finished:
	// their staging directories are removed on Close if the write function
	// was never called, and Close waits for those being written.
	snaps struct {
		sync.Mutex
		pending map[string]*pendingSnapshot
		closed  bool
		wg      sync.WaitGroup
	}
	// sums memoises the checksums of immutable files (sstables, blob
	// files) by name, so that each checkpoint reads only the files that
	// are new since the previous one. Guarded by its own mutex: write
	// functions run on other goroutines.
	sums struct {
		sync.Mutex
		m map[string]fileSum
	}
}

type pendingSnapshot struct {
	staging string
	state   int // 0 pending, 1 being written, 2 done
}

const (
	pebbleDBDir      = "db"
	pebbleStagingDir = "staging"
)

// OpenPebble opens the PebbleStore in dir, creating it if it does not
// exist. A store reopened after Close holds what was written before Close.
func OpenPebble(dir string, opts PebbleOptions) (*PebbleStore, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	// Snapshots of an earlier process that were never written, and the
	// sstables of a restore it did not finish, are garbage.
	if err := os.RemoveAll(filepath.Join(dir, pebbleStagingDir)); err != nil {
		return nil, fmt.Errorf("state: open pebble store %s: %w", dir, err)
	}
	if stale, err := filepath.Glob(filepath.Join(dir, "ingest-*")); err == nil {
		for _, d := range stale {
			if err := os.RemoveAll(d); err != nil {
				return nil, fmt.Errorf("state: open pebble store %s: %w", dir, err)
			}
		}
	}
	return openPebbleDB(dir, opts)
}

func openPebbleDB(dir string, opts PebbleOptions) (*PebbleStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, pebbleStagingDir), 0o755); err != nil {
		return nil, fmt.Errorf("state: open pebble store %s: %w", dir, err)
	}
	po := opts.pebbleOptions()
	db, err := pebble.Open(filepath.Join(dir, pebbleDBDir), po)
	if err != nil {
		return nil, fmt.Errorf("state: open pebble store %s: %w", dir, err)
	}
	s := &PebbleStore{dir: dir, opts: opts, popts: po, db: db, batch: db.NewIndexedBatch()}
	s.snaps.pending = map[string]*pendingSnapshot{}
	s.sums.m = map[string]fileSum{}
	return s, nil
}

// Dir returns the directory the store was opened in.
func (s *PebbleStore) Dir() string { return s.dir }

// Get implements Store.
//
// Point reads go through one long-lived iterator over the batch and the
// database, rather than Batch.Get, so that they can use the bloom filters
// of the last level, where most keys live: Pebble's Get skips those
// filters, and a keyed operator's reads often ask for keys that do not
// exist yet. The iterator's view of the database is fixed when it is
// created, which is right because every write to the database goes
// through this store's batch: the iterator is refreshed when the batch
// changes and recreated when the batch is committed.
func (s *PebbleStore) Get(key []byte) ([]byte, bool, error) {
	if s.closed {
		return nil, false, ErrClosed
	}
	it, err := s.pointIter()
	if err != nil {
		return nil, false, fmt.Errorf("state: pebble get: %w", err)
	}
	if !it.SeekPrefixGE(key) || !bytes.Equal(it.Key(), key) {
		if err := it.Error(); err != nil {
			return nil, false, fmt.Errorf("state: pebble get: %w", err)
		}
		return nil, false, nil
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, false, fmt.Errorf("state: pebble get: %w", err)
	}
	return append(make([]byte, 0, len(v)), v...), true, nil
}

// pointIterOptions are the options of the point-read iterator.
var pointIterOptions = pebble.IterOptions{UseL6Filters: true}

// pointIterReads bounds the reads one point iterator serves, so that a
// store that is only read does not pin flushed memtables and compacted
// sstables for ever.
const pointIterReads = 1 << 16

// pointIter returns the point-read iterator, current with the batch.
func (s *PebbleStore) pointIter() (*pebble.Iterator, error) {
	if s.pit != nil && s.pitReads >= pointIterReads {
		s.closePointIter()
	}
	if s.pit == nil {
		it, err := s.batch.NewIter(&pointIterOptions)
		if err != nil {
			return nil, err
		}
		s.pit, s.pitCount, s.pitReads = it, s.batch.Count(), 0
	} else if c := s.batch.Count(); c != s.pitCount {
		s.pit.SetOptions(&pointIterOptions) // refreshes the view of the batch
		s.pitCount = c
	}
	s.pitReads++
	return s.pit, nil
}

func (s *PebbleStore) closePointIter() {
	if s.pit != nil {
		_ = s.pit.Close()
		s.pit = nil
	}
}

// Set implements Store.
func (s *PebbleStore) Set(key, value []byte) error {
	if s.closed {
		return ErrClosed
	}
	if err := s.batch.Set(key, value, nil); err != nil {
		return fmt.Errorf("state: pebble set: %w", err)
	}
	return s.maybeCommit()
}

// Delete implements Store.
func (s *PebbleStore) Delete(key []byte) error {
	if s.closed {
		return ErrClosed
	}
	if err := s.batch.Delete(key, nil); err != nil {
		return fmt.Errorf("state: pebble delete: %w", err)
	}
	return s.maybeCommit()
}

// DeleteRange implements Store.
func (s *PebbleStore) DeleteRange(start, end []byte) error {
	if s.closed {
		return ErrClosed
	}
	if bytes.Compare(start, end) >= 0 {
		return nil // an empty range; Pebble would reject it
	}
	if err := s.batch.DeleteRange(start, end, nil); err != nil {
		return fmt.Errorf("state: pebble delete range: %w", err)
	}
	return s.maybeCommit()
}

// Scan implements Store. A nil upper bound scans to the end.
func (s *PebbleStore) Scan(lower, upper []byte, fn func(key, value []byte) bool) error {
	if s.closed {
		return ErrClosed
	}
	if upper != nil && bytes.Compare(lower, upper) >= 0 {
		return nil
	}
	it, err := s.batch.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("state: pebble scan: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("state: pebble scan: %w", err)
		}
		if !fn(it.Key(), v) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: pebble scan: %w", err)
	}
	return nil
}

func (s *PebbleStore) maybeCommit() error {
	if s.batch.Len() < s.opts.BatchBytes {
		return nil
	}
	return s.commit()
}

// commit applies the batch to the database, without syncing, and starts a
// new one.
func (s *PebbleStore) commit() error {
	if s.batch.Empty() {
		return nil
	}
	s.closePointIter() // its view of the database is now stale
	if err := s.db.Apply(s.batch, pebble.NoSync); err != nil {
		return fmt.Errorf("state: pebble commit: %w", err)
	}
	s.batch.Reset()
	return nil
}

// Flush implements Store: it commits the batch to the database. It does not
// sync: a snapshot taken next includes every write so far.
func (s *PebbleStore) Flush() error {
	if s.closed {
		return ErrClosed
	}
	return s.commit()
}

// Close implements Store. It commits the pending batch, removes the staging
// directories of snapshots whose write function was never called (calling
// one later fails), waits for write functions in progress, and closes the
// database. Closing twice is a no-op.
func (s *PebbleStore) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.commit()
	s.snaps.Lock()
	s.snaps.closed = true
	for _, p := range s.snaps.pending {
		if p.state == 0 {
			if rerr := os.RemoveAll(p.staging); rerr != nil && err == nil {
				err = fmt.Errorf("state: close pebble store: %w", rerr)
			}
		}
	}
	s.snaps.Unlock()
	s.snaps.wg.Wait()
	s.closePointIter()
	if cerr := s.batch.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("state: close pebble store: %w", cerr)
	}
	if cerr := s.db.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("state: close pebble store: %w", cerr)
	}
	return err
}

// Metrics returns Pebble's metrics of the database, for diagnostics.
func (s *PebbleStore) Metrics() *pebble.Metrics { return s.db.Metrics() }

// DiskUsage returns an estimate of the bytes the database's files take.
func (s *PebbleStore) DiskUsage() uint64 { return s.db.Metrics().DiskSpaceUsage() }

// String describes the store for debugging.
func (s *PebbleStore) String() string { return fmt.Sprintf("PebbleStore(%s)", s.dir) }
