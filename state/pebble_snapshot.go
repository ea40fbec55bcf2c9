package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluicehq/sluice/internal/durable"
)

// PebbleSnapshotManifest is the file, in a snapshot directory of format
// SnapshotFormatPebble, that lists the snapshot's files with their sizes
// and CRC-32C checksums. It is written last: a directory without it is an
// incomplete snapshot.
const PebbleSnapshotManifest = "SLUICE-SNAPSHOT"

// pebbleManifestVersion is the version of PebbleSnapshotManifest's format.
const pebbleManifestVersion = 1

type pebbleManifest struct {
	Format        string    `json:"format"`
	Version       int       `json:"version"`
	LayoutVersion int       `json:"layout_version"`
	Files         []fileSum `json:"files"`
}

type fileSum struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

// immutableFile reports whether a Pebble file is never modified once
// written (sstables and blob files), so that it can be hard-linked into a
// snapshot or a restored store and its checksum remembered by name. Other
// files (WAL, MANIFEST, OPTIONS, markers) are copied: Pebble appends to and
// recycles them.
func immutableFile(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

// SnapshotFormat returns SnapshotFormatPebble.
func (s *PebbleStore) SnapshotFormat() string { return SnapshotFormatPebble }

// Snapshot implements Snapshotter.
//
// The synchronous part commits the batch, then makes a Pebble checkpoint
// in a staging directory inside the store's directory: it pushes the WAL's
// buffer into its file, hard-links the sstables, and copies the manifest,
// the OPTIONS file and the WAL of the memtables not yet flushed (at most
// about two memtables, see PebbleOptions.MemTableBytes), without syncing
// anything (see stateFS). Its cost therefore does not grow with the amount
// of state beyond one link per sstable.
//
// The write function moves the staging directory to dir (a rename on the
// same file system, a copy otherwise), checksums and syncs the files that
// are new since the store's previous snapshot (sstables' checksums are
// remembered by name), and writes PebbleSnapshotManifest last. It may be
// called once. It returns the paths of the files in dir, the manifest last.
// If it is never called, Close removes the staging directory.
func (s *PebbleStore) Snapshot() (func(dir string) ([]string, error), error) {
	if s.closed {
		return nil, ErrClosed
	}
	if err := s.commit(); err != nil {
		return nil, err
	}
	s.seq++
	staging := filepath.Join(s.dir, pebbleStagingDir, fmt.Sprintf("snap-%06d", s.seq))
	if err := s.db.Checkpoint(staging, pebble.WithFlushedWAL()); err != nil {
		_ = os.RemoveAll(staging)
		return nil, fmt.Errorf("state: pebble snapshot: %w", err)
	}
	p := &pendingSnapshot{staging: staging}
	s.snaps.Lock()
	s.snaps.pending[staging] = p
	s.snaps.Unlock()
	return func(dir string) ([]string, error) { return s.writeSnapshot(p, dir) }, nil
}

func (s *PebbleStore) writeSnapshot(p *pendingSnapshot, dir string) (files []string, err error) {
	s.snaps.Lock()
	switch {
	case p.state != 0:
		s.snaps.Unlock()
		return nil, errors.New("state: pebble snapshot written twice")
	case s.snaps.closed:
		s.snaps.Unlock()
		return nil, fmt.Errorf("state: pebble snapshot: %w before the snapshot was written", ErrClosed)
	}
	p.state = 1
	s.snaps.wg.Add(1)
	s.snaps.Unlock()
	defer func() {
		if err != nil {
			_ = os.RemoveAll(p.staging)
		}
		s.snaps.Lock()
		p.state = 2
		delete(s.snaps.pending, p.staging)
		s.snaps.Unlock()
		s.snaps.wg.Done()
	}()

	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("state: pebble snapshot: %s already exists", dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("state: pebble snapshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("state: pebble snapshot: %w", err)
	}
	if err := os.Rename(p.staging, dir); err != nil {
		if !errors.Is(err, syscall.EXDEV) {
			return nil, fmt.Errorf("state: pebble snapshot: %w", err)
		}
		// Another file system: no links possible, copy.
		if err := copyDir(p.staging, dir); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("state: pebble snapshot: %w", err)
		}
		_ = os.RemoveAll(p.staging)
	}
	files, err = s.finishSnapshotDir(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return files, nil
}

// finishSnapshotDir checksums and syncs the files in dir and writes the
// manifest.
func (s *PebbleStore) finishSnapshotDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("state: pebble snapshot: %w", err)
	}
	man := pebbleManifest{Format: SnapshotFormatPebble, Version: pebbleManifestVersion, LayoutVersion: LayoutVersion}
	var files []string
	live := map[string]bool{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("state: pebble snapshot: unexpected entry %s in the checkpoint", e.Name())
		}
		path := filepath.Join(dir, e.Name())
		sum, err := s.fileSum(path, e.Name())
		if err != nil {
			return nil, fmt.Errorf("state: pebble snapshot: %w", err)
		}
		man.Files = append(man.Files, sum)
		files = append(files, path)
		live[e.Name()] = true
	}
	// Forget the checksums of files that compactions have deleted.
	s.sums.Lock()
	for name := range s.sums.m {
		if !live[name] {
			delete(s.sums.m, name)
		}
	}
	s.sums.Unlock()

	b, err := json.MarshalIndent(&man, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("state: pebble snapshot: %w", err)
	}
	mpath := filepath.Join(dir, PebbleSnapshotManifest)
	if err := durable.WriteFileSync(mpath+".tmp", append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("state: pebble snapshot: %w", err)
	}
	if err := os.Rename(mpath+".tmp", mpath); err != nil {
		return nil, fmt.Errorf("state: pebble snapshot: %w", err)
	}
	if err := syncDirAndParent(dir); err != nil {
		return nil, err
	}
	return append(files, mpath), nil
}

// fileSum returns the size and CRC of a file in a snapshot, syncing it on
// the way; an immutable file seen in an earlier snapshot of this store is
// neither read nor synced again.
func (s *PebbleStore) fileSum(path, name string) (fileSum, error) {
	if immutableFile(name) {
		s.sums.Lock()
		sum, ok := s.sums.m[name]
		s.sums.Unlock()
		if ok {
			if fi, err := os.Stat(path); err == nil && fi.Size() == sum.Size {
				return sum, nil
			}
		}
	}
	sum, err := checksumFile(path, true)
	if err != nil {
		return sum, err
	}
	sum.Name = name
	if immutableFile(name) {
		s.sums.Lock()
		s.sums.m[name] = sum
		s.sums.Unlock()
	}
	return sum, nil
}

// checksumFile reads path and returns its size and CRC-32C, syncing it
// first if sync is set.
func checksumFile(path string, sync bool) (fileSum, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileSum{}, err
	}
	defer f.Close()
	if sync {
		if err := f.Sync(); err != nil {
			return fileSum{}, err
		}
	}
	h := crc32.New(crcTable)
	n, err := io.Copy(h, f)
	if err != nil {
		return fileSum{}, err
	}
	return fileSum{Name: filepath.Base(path), Size: n, CRC32C: h.Sum32()}, nil
}

// copyFile copies src to a new file dst and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyDir copies the regular files of src into a new directory dst.
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// readPebbleManifest reads and checks the manifest of the Pebble snapshot in
// dir, and with verify also every file it lists: presence, size and CRC.
func readPebbleManifest(dir string, verify bool) (*pebbleManifest, error) {
	mpath := filepath.Join(dir, PebbleSnapshotManifest)
	b, err := os.ReadFile(mpath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &SnapshotError{Path: dir, Offset: -1, Reason: "incomplete snapshot: no " + PebbleSnapshotManifest}
		}
		return nil, fmt.Errorf("state: read snapshot %s: %w", dir, err)
	}
	var man pebbleManifest
	if err := json.Unmarshal(b, &man); err != nil {
		return nil, &SnapshotError{Path: mpath, Offset: -1, Reason: fmt.Sprintf("unreadable manifest: %v", err)}
	}
	switch {
	case man.Format != SnapshotFormatPebble:
		return nil, &SnapshotError{Path: mpath, Offset: -1, Reason: fmt.Sprintf("format %q, want %q", man.Format, SnapshotFormatPebble)}
	case man.Version != pebbleManifestVersion:
		return nil, &SnapshotError{Path: mpath, Offset: -1, Reason: fmt.Sprintf("manifest version %d, this build reads version %d", man.Version, pebbleManifestVersion)}
	case man.LayoutVersion != LayoutVersion:
		return nil, &SnapshotError{Path: mpath, Offset: -1, Reason: fmt.Sprintf("state layout version %d, this build reads version %d", man.LayoutVersion, LayoutVersion)}
	case len(man.Files) == 0:
		return nil, &SnapshotError{Path: mpath, Offset: -1, Reason: "manifest lists no files"}
	}
	for _, f := range man.Files {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == PebbleSnapshotManifest {
			return nil, &SnapshotError{Path: mpath, Offset: -1, Reason: fmt.Sprintf("bad file name %q", f.Name)}
		}
		path := filepath.Join(dir, f.Name)
		fi, err := os.Stat(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, &SnapshotError{Path: path, Offset: -1, Reason: "file listed in the manifest is missing"}
			}
			return nil, fmt.Errorf("state: read snapshot %s: %w", dir, err)
		}
		if fi.Size() != f.Size {
			return nil, &SnapshotError{Path: path, Offset: -1, Reason: fmt.Sprintf("size %d, the manifest says %d (truncated or replaced)", fi.Size(), f.Size)}
		}
		if !verify {
			continue
		}
		sum, err := checksumFile(path, false)
		if err != nil {
			return nil, fmt.Errorf("state: read snapshot %s: %w", dir, err)
		}
		if sum.Size != f.Size || sum.CRC32C != f.CRC32C {
			return nil, &SnapshotError{Path: path, Offset: -1, Reason: fmt.Sprintf("checksum mismatch (manifest %08x, file %08x)", f.CRC32C, sum.CRC32C)}
		}
	}
	return &man, nil
}

// VerifySnapshot checks the snapshot in dir without restoring it: a Pebble
// snapshot's files against its manifest (presence, sizes, CRCs), a snapshot
// file's blocks, counts and checksums. A failed check returns an error
// wrapping ErrCorruptSnapshot that names the file at fault.
func VerifySnapshot(dir string) error {
	format, err := DetectSnapshotFormat(dir)
	if err != nil {
		return err
	}
	if format == SnapshotFormatPebble {
		_, err = readPebbleManifest(dir, true)
		return err
	}
	_, err = ReadSnapshotFile(filepath.Join(dir, SnapshotFileName), KeyGroupRange{Start: 0, End: -1}, nil)
	return err
}

// linkPebbleSnapshot makes dst a working copy of the checked snapshot in
// src: immutable files are hard-linked (copied when links are impossible),
// the others copied, so that the database opened in dst never modifies the
// snapshot.
func linkPebbleSnapshot(src string, man *pebbleManifest, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range man.Files {
		from, to := filepath.Join(src, f.Name), filepath.Join(dst, f.Name)
		if immutableFile(f.Name) {
			if err := os.Link(from, to); err == nil {
				continue
			}
		}
		if err := copyFile(from, to); err != nil {
			return err
		}
	}
	return nil
}

// scanPebblePart verifies the Pebble snapshot in dir and calls fn for its
// entries in key groups r.
func scanPebblePart(dir string, r KeyGroupRange, tmpParent string, fn func(k, v []byte) error) (err error) {
	man, err := readPebbleManifest(dir, true)
	if err != nil {
		return fmt.Errorf("state: restore: %w", err)
	}
	if tmpParent == "" {
		// Beside the snapshot, where hard links work; else the system's
		// temporary directory (where they may not, and files are copied).
		tmpParent = filepath.Dir(filepath.Clean(dir))
	}
	tmp, err := os.MkdirTemp(tmpParent, "sluice-restore-*")
	if err != nil {
		if tmp, err = os.MkdirTemp("", "sluice-restore-*"); err != nil {
			return fmt.Errorf("state: restore: %w", err)
		}
	}
	defer os.RemoveAll(tmp)
	if err := linkPebbleSnapshot(dir, man, tmp); err != nil {
		return fmt.Errorf("state: restore %s: %w", dir, err)
	}
	po := &pebble.Options{ReadOnly: true, CacheSize: 8 << 20, Logger: quietLogger{}}
	db, err := pebble.Open(tmp, po)
	if err != nil {
		return fmt.Errorf("state: restore: open snapshot %s: %w", dir, err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("state: restore %s: %w", dir, cerr)
		}
	}()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: kgKey(r.Start), UpperBound: kgKey(r.End + 1)})
	if err != nil {
		return fmt.Errorf("state: restore %s: %w", dir, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, verr := it.ValueAndErr()
		if verr != nil {
			_ = it.Close()
			return fmt.Errorf("state: restore %s: %w", dir, verr)
		}
		if ferr := fn(it.Key(), v); ferr != nil {
			_ = it.Close()
			return ferr
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: restore %s: %w", dir, err)
	}
	return nil
}

// OpenPebbleFrom opens a new PebbleStore in dir holding exactly the state of
// key groups want, from the parts that overlap it (any parallelism before).
//
// The parts that overlap want must not overlap each other and must together
// cover want; each is verified (checksums) before use. The Pebble part that
// covers most of want, if any, becomes the new store by hard links (copies
// across file systems), and the key groups outside want are excised from
// it; the other parts' entries in want are written into sstables and
// ingested. So a restore at the same parallelism links files and reads
// nothing but the checksums, and a rescale copies only the key groups that
// move. dir must not hold a store yet.
func OpenPebbleFrom(dir string, opts PebbleOptions, parts []SnapshotPart, want KeyGroupRange) (*PebbleStore, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	rel, err := relevantParts(parts, want)
	if err != nil {
		return nil, err
	}
	dbDir := filepath.Join(dir, pebbleDBDir)
	if entries, err := os.ReadDir(dbDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("state: restore into %s: a store exists there", dir)
	}
	if err := os.RemoveAll(filepath.Join(dir, pebbleStagingDir)); err != nil {
		return nil, fmt.Errorf("state: restore into %s: %w", dir, err)
	}
	base := -1
	for i, p := range rel {
		if p.Format == SnapshotFormatPebble && (base < 0 || p.KeyGroups.Intersect(want).Len() > rel[base].KeyGroups.Intersect(want).Len()) {
			base = i
		}
	}
	fail := func(err error) (*PebbleStore, error) {
		_ = os.RemoveAll(dbDir)
		return nil, err
	}
	var man *pebbleManifest
	if base >= 0 {
		if man, err = readPebbleManifest(rel[base].Dir, true); err != nil {
			return nil, fmt.Errorf("state: restore: %w", err)
		}
		if err := linkPebbleSnapshot(rel[base].Dir, man, dbDir); err != nil {
			return fail(fmt.Errorf("state: restore %s: %w", rel[base].Dir, err))
		}
	}
	s, err := openPebbleDB(dir, opts)
	if err != nil {
		return fail(err)
	}
	if man != nil {
		// The linked sstables were just verified: the next snapshot need
		// not read them again.
		for _, f := range man.Files {
			if immutableFile(f.Name) {
				s.sums.m[f.Name] = f
			}
		}
	}
	if err := s.restoreInto(rel, base, want); err != nil {
		_ = s.Close()
		return fail(err)
	}
	return s, nil
}

// maxStateKey is above every key of the layout: key groups take two bytes
// and are below MaxMaxParallelism.
var maxStateKey = []byte{0xff, 0xff, 0xff, 0xff}

func (s *PebbleStore) restoreInto(rel []SnapshotPart, base int, want KeyGroupRange) error {
	ctx := context.Background()
	if base >= 0 {
		keep := rel[base].KeyGroups.Intersect(want)
		if err := s.db.Excise(ctx, pebble.KeyRange{Start: []byte{}, End: kgKey(keep.Start)}); err != nil {
			return fmt.Errorf("state: restore: excise below key group %d: %w", keep.Start, err)
		}
		if err := s.db.Excise(ctx, pebble.KeyRange{Start: kgKey(keep.End + 1), End: maxStateKey}); err != nil {
			return fmt.Errorf("state: restore: excise above key group %d: %w", keep.End, err)
		}
	}
	if len(rel) == 1 && base == 0 {
		return nil
	}
	tmp, err := os.MkdirTemp(s.dir, "ingest-*")
	if err != nil {
		return fmt.Errorf("state: restore: %w", err)
	}
	defer os.RemoveAll(tmp)
	sink := &sstSink{dir: tmp, popts: s.popts, format: s.db.TableFormat()}
	for i, p := range rel {
		if i == base {
			continue
		}
		err := scanPart(p, p.KeyGroups.Intersect(want), tmp, sink.add)
		if err == nil {
			err = sink.finish()
		}
		if err != nil {
			sink.abort()
			return err
		}
	}
	if len(sink.paths) == 0 {
		return nil
	}
	if err := s.db.Ingest(ctx, sink.paths); err != nil {
		return fmt.Errorf("state: restore: ingest: %w", err)
	}
	return nil
}

// sstSink writes sorted entries into sstables of about sstTarget bytes for
// ingestion.
type sstSink struct {
	dir    string
	popts  *pebble.Options
	format sstable.TableFormat
	w      *sstable.Writer
	size   int
	paths  []string
}

const sstTarget = 64 << 20

func (k *sstSink) add(key, value []byte) error {
	if k.w == nil {
		path := filepath.Join(k.dir, fmt.Sprintf("%06d.sst", len(k.paths)))
		f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			return fmt.Errorf("state: restore: %w", err)
		}
		k.w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), k.popts.MakeWriterOptions(len(k.popts.Levels)-1, k.format))
		k.paths = append(k.paths, path)
	}
	if err := k.w.Set(key, value); err != nil {
		return fmt.Errorf("state: restore: write sstable: %w", err)
	}
	k.size += len(key) + len(value)
	if k.size >= sstTarget {
		return k.finish()
	}
	return nil
}

func (k *sstSink) finish() error {
	if k.w == nil {
		return nil
	}
	err := k.w.Close()
	k.w, k.size = nil, 0
	if err != nil {
		return fmt.Errorf("state: restore: write sstable: %w", err)
	}
	return nil
}

func (k *sstSink) abort() {
	if k.w != nil {
		_ = k.w.Close()
		k.w = nil
	}
}
