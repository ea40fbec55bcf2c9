// Package s3checkpoint keeps an engine job's checkpoints in S3 (any S3
// API): an engine.RemoteCheckpointStorage over connectors/s3.
//
// Each task uploads its own snapshot files on its asynchronous snapshot
// writer; an immutable file (a Pebble sstable) that an earlier checkpoint
// of the same store already uploaded is referenced, not uploaded again, so
// a checkpoint after few changes uploads little. The coordinator's manifest
// is stored last with one PUT: a checkpoint without its manifest is not
// complete, is never listed or restored, and its objects are deleted as
// orphans. Retention deletes a checkpoint's manifest, then its own objects,
// then the shared objects that no retained checkpoint references (mark and
// sweep over the retained manifests). Open downloads a checkpoint into a
// local cache directory for the engine's ordinary restore path, on any
// machine. The object layout is in docs/checkpoints.md ("On S3").
package s3checkpoint

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/engine"
)

// Options configure a Storage.
type Options struct {
	// Prefix is the key prefix of the job's checkpoints in the bucket
	// (no leading or trailing '/'). Two jobs must not share a prefix.
	Prefix string
	// CacheDir holds the local staging directories of checkpoints being
	// taken and the downloads of checkpoints being restored. Default: a
	// new temporary directory (removed by Close).
	CacheDir string
	// Concurrency bounds the uploads and downloads in flight over all the
	// job's tasks. Default 4.
	Concurrency int
	// Timeout bounds each storage operation that has no context of its
	// own (Complete, Remove, Abort, List, Open). Default 5 minutes.
	Timeout time.Duration
}

// Storage is a checkpoint storage in one bucket under one prefix. It is
// safe for concurrent use.
type Storage struct {
	b        *s3.Bucket
	prefix   string
	cache    string
	ownCache bool
	sem      chan struct{}
	timeout  time.Duration

	mu sync.Mutex
	// loaded: complete and refs reflect the bucket's manifests.
	loaded   bool
	swept    bool
	complete map[int64][]engine.RemoteFile // complete checkpoints' objects
	refs     map[string]int                // shared key -> complete checkpoints referencing it
	pending  map[int64]*pendingUpload
	stats    map[int64]*Stats

	uploaded atomic.Int64 // bytes, over the storage's life
}

type pendingUpload struct {
	shared    map[string]bool // shared keys referenced
	newShared map[string]bool // shared keys this checkpoint uploaded
}

// Stats count what one checkpoint stored.
type Stats struct {
	// UploadedBytes and UploadedFiles were sent to S3 for it.
	UploadedBytes, UploadedFiles int64
	// UploadedSharedBytes of them were immutable files (sstables) new
	// since the store's earlier checkpoints.
	UploadedSharedBytes int64
	// ReusedBytes and ReusedFiles are immutable files an earlier
	// checkpoint had uploaded, referenced instead.
	ReusedBytes, ReusedFiles int64
}

// New returns the storage of the checkpoints under opts.Prefix in b. It
// does not contact the server.
func New(b *s3.Bucket, opts Options) (*Storage, error) {
	if strings.HasPrefix(opts.Prefix, "/") || strings.HasSuffix(opts.Prefix, "/") {
		return nil, fmt.Errorf("s3checkpoint: prefix %q must not start or end with '/'", opts.Prefix)
	}
	for _, part := range strings.Split(opts.Prefix, "/") {
		if part == "." || part == ".." {
			return nil, fmt.Errorf("s3checkpoint: prefix %q holds a %q element", opts.Prefix, part)
		}
	}
	if opts.Concurrency < 0 {
		return nil, fmt.Errorf("s3checkpoint: negative concurrency %d", opts.Concurrency)
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 4
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	s := &Storage{b: b, prefix: opts.Prefix, cache: opts.CacheDir, sem: make(chan struct{}, opts.Concurrency), timeout: opts.Timeout,
		pending: map[int64]*pendingUpload{}, stats: map[int64]*Stats{}}
	if s.cache == "" {
		dir, err := os.MkdirTemp("", "sluice-s3checkpoint-")
		if err != nil {
			return nil, fmt.Errorf("s3checkpoint: cache directory: %w", err)
		}
		s.cache, s.ownCache = dir, true
	}
	return s, nil
}

// ParseURL splits s3://bucket/prefix (or s3a://) into the bucket and the
// prefix; ok is false for other locations.
func ParseURL(u string) (bucket, prefix string, ok bool, err error) {
	var rest string
	for _, scheme := range []string{"s3://", "s3a://"} {
		if r, found := strings.CutPrefix(u, scheme); found {
			rest, ok = r, true
			break
		}
	}
	if !ok {
		return "", "", false, nil
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", true, fmt.Errorf("s3checkpoint: %q names no bucket", u)
	}
	return bucket, strings.Trim(prefix, "/"), true, nil
}

// Close removes the cache directory if the storage created it.
func (s *Storage) Close() error {
	if s.ownCache {
		return os.RemoveAll(s.cache)
	}
	return nil
}

// Stats returns what checkpoint id stored (zero if unknown to this
// process).
func (s *Storage) Stats(id int64) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stats[id]; st != nil {
		return *st
	}
	return Stats{}
}

// UploadedBytes is the total sent to S3 by this storage.
func (s *Storage) UploadedBytes() int64 { return s.uploaded.Load() }

func (s *Storage) key(rel string) string {
	if s.prefix == "" {
		return rel
	}
	return s.prefix + "/" + rel
}

func chkDir(id int64) string               { return fmt.Sprintf("chk-%d", id) }
func manifestKey(id int64) string          { return chkDir(id) + "/" + engine.ManifestFile }
func (s *Storage) staging(id int64) string { return filepath.Join(s.cache, "staging", chkDir(id)) }

func (s *Storage) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// load reads every manifest under the prefix, once.
func (s *Storage) load(ctx context.Context) error {
	s.mu.Lock()
	loaded := s.loaded
	s.mu.Unlock()
	if loaded {
		return nil
	}
	keys, err := s.b.List(ctx, s.key("chk-"))
	if err != nil {
		return fmt.Errorf("s3checkpoint: %w", err)
	}
	complete := map[int64][]engine.RemoteFile{}
	for _, k := range keys {
		id, ok := manifestID(strings.TrimPrefix(k, s.key("")))
		if !ok {
			continue
		}
		m, err := s.readManifest(ctx, id)
		if err != nil {
			// A manifest that does not decode is kept (restores report
			// it and fall back); its objects are not counted as
			// referenced, but neither is it swept: only objects of
			// checkpoints without a manifest are orphans.
			complete[id] = nil
			continue
		}
		complete[id] = manifestFiles(m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded {
		return nil
	}
	s.complete = complete
	s.refs = map[string]int{}
	for _, files := range complete {
		s.addRefs(files)
	}
	s.loaded = true
	return nil
}

func (s *Storage) addRefs(files []engine.RemoteFile) {
	for _, f := range files {
		if f.Shared {
			s.refs[f.Key]++
		}
	}
}

// manifestID parses chk-<id>/_manifest.json.
func manifestID(rel string) (int64, bool) {
	d, f, ok := strings.Cut(rel, "/")
	if !ok || f != engine.ManifestFile {
		return 0, false
	}
	return chkID(d)
}

func chkID(d string) (int64, bool) {
	n, ok := strings.CutPrefix(d, "chk-")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(n, 10, 64)
	return id, err == nil && id > 0
}

func manifestFiles(m *engine.Manifest) []engine.RemoteFile {
	var out []engine.RemoteFile
	for _, op := range m.Operators {
		for _, st := range op.Subtasks {
			out = append(out, st.Files...)
		}
	}
	return out
}

func (s *Storage) readManifest(ctx context.Context, id int64) (*engine.Manifest, error) {
	k := s.key(manifestKey(id))
	b, err := s.b.Get(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("s3checkpoint: %w", err)
	}
	return engine.DecodeManifest(b, "s3://"+s.b.Name()+"/"+k)
}

// Begin implements engine.CheckpointStorage: a local staging directory.
// The first Begin of the storage first deletes the orphans of checkpoints
// that never completed (a crash between uploads and manifest).
func (s *Storage) Begin(id int64) (string, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.load(ctx); err != nil {
		return "", err
	}
	s.mu.Lock()
	sweep := !s.swept
	s.swept = true
	s.mu.Unlock()
	if sweep {
		if _, err := s.SweepOrphans(ctx); err != nil {
			s.mu.Lock()
			s.swept = false
			s.mu.Unlock()
			return "", err
		}
	}
	dir := s.staging(id)
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("s3checkpoint: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("s3checkpoint: %w", err)
	}
	s.mu.Lock()
	s.pending[id] = &pendingUpload{shared: map[string]bool{}, newShared: map[string]bool{}}
	s.stats[id] = &Stats{}
	s.mu.Unlock()
	return dir, nil
}

// sharedKey is the key of an immutable file of a store: the store, the
// file's name, size and checksum, so that two stores never share an
// object and a file that changed under its name is never taken for the
// old one.
func sharedKey(store string, f engine.SnapshotFile) string {
	return fmt.Sprintf("shared/%s/%s.%d.%08x", store, path.Base(f.Path), f.Size, f.CRC32C)
}

// Upload implements engine.RemoteCheckpointStorage.
func (s *Storage) Upload(ctx context.Context, id int64, store string, files []engine.SnapshotFile) ([]engine.RemoteFile, error) {
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	p := s.pending[id]
	st := s.stats[id]
	s.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("s3checkpoint: checkpoint %d was not begun", id)
	}
	out := make([]engine.RemoteFile, len(files))
	errs := make([]error, len(files))
	// The first failure stops the other uploads: the checkpoint fails.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i, f := range files {
		if f.Path == "" || strings.HasPrefix(f.Path, "/") || slices.Contains(strings.Split(f.Path, "/"), "..") {
			return nil, fmt.Errorf("s3checkpoint: bad snapshot path %q", f.Path)
		}
		rf := engine.RemoteFile{Path: f.Path, Key: chkDir(id) + "/" + f.Path}
		if f.Immutable {
			rf.Key, rf.Size, rf.CRC32C, rf.Shared = sharedKey(store, f), f.Size, f.CRC32C, true
			s.mu.Lock()
			have := s.refs[rf.Key] > 0 || s.anyPendingHas(rf.Key)
			p.shared[rf.Key] = true
			if have {
				st.ReusedBytes += f.Size
				st.ReusedFiles++
			}
			s.mu.Unlock()
			if have {
				out[i] = rf
				continue
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-s.sem }()
			if ctx.Err() != nil {
				return
			}
			size, crc, err := s.put(ctx, s.key(rf.Key), f.Local)
			if err != nil {
				if context.Cause(ctx) == nil {
					errs[i] = fmt.Errorf("s3checkpoint: upload %s: %w", f.Path, err)
					cancel(errs[i])
				}
				return
			}
			if rf.Shared && (size != rf.Size || crc != rf.CRC32C) {
				errs[i] = fmt.Errorf("s3checkpoint: %s changed while uploaded: size %d crc %08x, the snapshot says size %d crc %08x", f.Local, size, crc, rf.Size, rf.CRC32C)
				return
			}
			rf.Size, rf.CRC32C = size, crc
			out[i] = rf
			s.uploaded.Add(size)
			s.mu.Lock()
			st.UploadedBytes += size
			st.UploadedFiles++
			if rf.Shared {
				p.newShared[rf.Key] = true
				st.UploadedSharedBytes += size
			}
			s.mu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err // the caller's context ended
	}
	return out, nil
}

// anyPendingHas reports whether a checkpoint in flight uploaded key.
// Called with s.mu held.
func (s *Storage) anyPendingHas(key string) bool {
	for _, p := range s.pending {
		if p.newShared[key] {
			return true
		}
	}
	return false
}

// put uploads the file at local to key: one PUT below the bucket's
// multipart threshold, else a multipart upload streamed from the file one
// part at a time. It returns the size and CRC-32C of what it sent.
func (s *Storage) put(ctx context.Context, key, local string) (int64, uint32, error) {
	f, err := os.Open(local)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	cfg := s.b.Config()
	h := crc32.New(castagnoli)
	if fi.Size() < cfg.MultipartThresholdBytes {
		body, err := io.ReadAll(io.TeeReader(f, h))
		if err != nil {
			return 0, 0, err
		}
		if err := s.b.Put(ctx, key, body); err != nil {
			return 0, 0, err
		}
		return int64(len(body)), h.Sum32(), nil
	}
	u, err := s.b.Begin(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	buf := make([]byte, s.b.PartSize())
	var n int64
	for {
		k, rerr := io.ReadFull(f, buf)
		if k > 0 || len(u.Parts) == 0 {
			h.Write(buf[:k])
			if err := s.b.UploadPart(ctx, &u, buf[:k]); err != nil {
				return 0, 0, errors.Join(err, s.b.Abort(context.WithoutCancel(ctx), u))
			}
			n += int64(k)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return 0, 0, errors.Join(rerr, s.b.Abort(context.WithoutCancel(ctx), u))
		}
	}
	if err := s.b.Complete(ctx, u); err != nil {
		return 0, 0, errors.Join(err, s.b.Abort(context.WithoutCancel(ctx), u))
	}
	return n, h.Sum32(), nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Complete implements engine.CheckpointStorage: the manifest is one PUT,
// after every object it names was uploaded.
func (s *Storage) Complete(id int64, manifest []byte) error {
	ctx, cancel := s.ctx()
	defer cancel()
	m, err := engine.DecodeManifest(manifest, manifestKey(id))
	if err != nil {
		return fmt.Errorf("s3checkpoint: %w", err)
	}
	files := manifestFiles(m)
	if err := s.b.Put(ctx, s.key(manifestKey(id)), manifest); err != nil {
		return fmt.Errorf("s3checkpoint: checkpoint %d: store manifest: %w", id, err)
	}
	s.mu.Lock()
	s.complete[id] = files
	s.addRefs(files)
	delete(s.pending, id)
	s.mu.Unlock()
	if err := os.RemoveAll(s.staging(id)); err != nil {
		return fmt.Errorf("s3checkpoint: %w", err)
	}
	// A restored attempt opened its stores from its download before it
	// could checkpoint (Pebble links the files, the memory store reads
	// them): older downloads are no longer needed.
	return s.removeRestoresBefore(id)
}

// Abort implements engine.CheckpointStorage: the checkpoint's own objects
// and the shared ones it uploaded that nothing else references are
// deleted.
func (s *Storage) Abort(id int64) error {
	ctx, cancel := s.ctx()
	defer cancel()
	s.mu.Lock()
	p := s.pending[id]
	delete(s.pending, id)
	var del []string
	if p != nil {
		for k := range p.newShared {
			if s.refs[k] == 0 && !s.anyPendingRefs(k) {
				del = append(del, k)
			}
		}
	}
	s.mu.Unlock()
	// The manifest first: a PUT that failed on the way back may have
	// been stored.
	errs := []error{os.RemoveAll(s.staging(id)), s.b.Delete(ctx, s.key(manifestKey(id)))}
	own, err := s.b.List(ctx, s.key(chkDir(id)+"/"))
	if err != nil {
		errs = append(errs, err)
	}
	for _, k := range own {
		errs = append(errs, s.b.Delete(ctx, k))
	}
	for _, k := range del {
		errs = append(errs, s.b.Delete(ctx, s.key(k)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("s3checkpoint: abort checkpoint %d: %w", id, err)
	}
	return nil
}

// List implements engine.CheckpointStorage: the checkpoints whose
// manifest exists, newest first.
func (s *Storage) List() ([]int64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.complete))
	for id := range s.complete {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b int64) int { return int(b - a) })
	return ids, nil
}

// Open implements engine.CheckpointStorage: it downloads complete
// checkpoint id (its manifest first: a checkpoint without one is never
// read) into the cache directory and returns it.
func (s *Storage) Open(id int64) (string, error) {
	return s.OpenFiltered(id, nil)
}

// OpenFiltered is Open downloading only the keyed state the filter
// accepts (nil: all). A process that restores some of a job's subtasks
// passes a filter of the key groups they own.
func (s *Storage) OpenFiltered(id int64, want func(op engine.ManifestOperator, st engine.SubtaskSnap) bool) (string, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	raw, err := s.b.Get(ctx, s.key(manifestKey(id)))
	if errors.Is(err, s3.ErrNoSuchKey) {
		return "", fmt.Errorf("engine: checkpoint %d in s3://%s/%s is not complete: %w", id, s.b.Name(), s.prefix, err)
	}
	if err != nil {
		return "", fmt.Errorf("s3checkpoint: checkpoint %d: %w: %w", id, engine.ErrCheckpointUnavailable, err)
	}
	m, err := engine.DecodeManifest(raw, "s3://"+s.b.Name()+"/"+s.key(manifestKey(id)))
	if err != nil {
		return "", err
	}
	dir := filepath.Join(s.cache, "restore", chkDir(id))
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("s3checkpoint: %w", err)
	}
	if err := s.removeOtherRestores(id); err != nil {
		return "", err
	}
	var files []engine.RemoteFile
	for _, op := range m.Operators {
		for _, st := range op.Subtasks {
			if want == nil || want(op, st) {
				files = append(files, st.Files...)
			}
		}
	}
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		local := filepath.Join(dir, filepath.FromSlash(f.Path))
		if !strings.HasPrefix(local, dir+string(filepath.Separator)) {
			return "", fmt.Errorf("%w: %s: bad file path %q", engine.ErrCorruptCheckpoint, manifestKey(id), f.Path)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.sem <- struct{}{}
			defer func() { <-s.sem }()
			errs[i] = s.download(ctx, f, local)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("s3checkpoint: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, engine.ManifestFile), raw, 0o644); err != nil {
		return "", fmt.Errorf("s3checkpoint: %w", err)
	}
	return dir, nil
}

// removeOtherRestores deletes the downloads of other checkpoints.
func (s *Storage) removeOtherRestores(keep int64) error {
	return s.removeRestores(func(id int64) bool { return id != keep })
}

// removeRestoresBefore deletes the downloads of checkpoints before id.
func (s *Storage) removeRestoresBefore(id int64) error {
	return s.removeRestores(func(d int64) bool { return d < id })
}

func (s *Storage) removeRestores(drop func(int64) bool) error {
	ents, err := os.ReadDir(filepath.Join(s.cache, "restore"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("s3checkpoint: %w", err)
	}
	for _, e := range ents {
		if id, ok := chkID(e.Name()); ok && drop(id) {
			if err := os.RemoveAll(filepath.Join(s.cache, "restore", e.Name())); err != nil {
				return fmt.Errorf("s3checkpoint: %w", err)
			}
		}
	}
	return nil
}

// download fetches one object and checks its size and checksum.
func (s *Storage) download(ctx context.Context, f engine.RemoteFile, local string) error {
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return fmt.Errorf("s3checkpoint: %w", err)
	}
	out, err := os.Create(local)
	if err != nil {
		return fmt.Errorf("s3checkpoint: %w", err)
	}
	h := crc32.New(castagnoli)
	n, err := s.b.Download(ctx, s.key(f.Key), io.MultiWriter(out, h))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, s3.ErrNoSuchKey) {
			return fmt.Errorf("%w: object %s of %s is missing: %w", engine.ErrCorruptCheckpoint, s.key(f.Key), f.Path, err)
		}
		return fmt.Errorf("s3checkpoint: download %s: %w: %w", f.Path, engine.ErrCheckpointUnavailable, err)
	}
	if n != f.Size || h.Sum32() != f.CRC32C {
		return fmt.Errorf("%w: object %s: size %d crc %08x, the manifest says size %d crc %08x", engine.ErrCorruptCheckpoint, s.key(f.Key), n, h.Sum32(), f.Size, f.CRC32C)
	}
	return nil
}

// Remove implements engine.CheckpointStorage (retention): the manifest
// goes first, so the checkpoint is no longer complete, then its own
// objects, then the shared objects no other checkpoint references.
func (s *Storage) Remove(id int64) error {
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.load(ctx); err != nil {
		return err
	}
	if err := s.b.Delete(ctx, s.key(manifestKey(id))); err != nil {
		return fmt.Errorf("s3checkpoint: remove checkpoint %d: %w", id, err)
	}
	s.mu.Lock()
	files := s.complete[id]
	delete(s.complete, id)
	var del []string
	for _, f := range files {
		if !f.Shared {
			continue
		}
		s.refs[f.Key]--
		if s.refs[f.Key] <= 0 {
			delete(s.refs, f.Key)
			if !s.anyPendingRefs(f.Key) {
				del = append(del, f.Key)
			}
		}
	}
	s.mu.Unlock()
	var errs []error
	own, err := s.b.List(ctx, s.key(chkDir(id)+"/"))
	if err != nil {
		errs = append(errs, err)
	}
	for _, k := range own {
		errs = append(errs, s.b.Delete(ctx, k))
	}
	for _, k := range del {
		errs = append(errs, s.b.Delete(ctx, s.key(k)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("s3checkpoint: remove checkpoint %d: %w", id, err)
	}
	return nil
}

// anyPendingRefs reports whether a checkpoint in flight references key.
// Called with s.mu held.
func (s *Storage) anyPendingRefs(key string) bool {
	for _, p := range s.pending {
		if p.shared[key] {
			return true
		}
	}
	return false
}

// SweepOrphans deletes every object under the prefix that no complete
// checkpoint references and no checkpoint in flight in this process
// wrote: what a crash between uploads and manifest left behind. It
// returns the keys deleted. The storage's first Begin calls it; while
// another process checkpoints under the same prefix it must not run.
func (s *Storage) SweepOrphans(ctx context.Context) ([]string, error) {
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	keys, err := s.b.List(ctx, s.key(""))
	if err != nil {
		return nil, fmt.Errorf("s3checkpoint: %w", err)
	}
	s.mu.Lock()
	var del []string
	for _, k := range keys {
		rel := strings.TrimPrefix(k, s.key(""))
		first, _, _ := strings.Cut(rel, "/")
		switch {
		case first == "shared":
			if s.refs[rel] == 0 && !s.anyPendingHas(rel) && !s.anyPendingRefs(rel) {
				del = append(del, k)
			}
		default:
			id, ok := chkID(first)
			if !ok {
				continue // not ours
			}
			if _, done := s.complete[id]; !done && s.pending[id] == nil {
				del = append(del, k)
			}
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, k := range del {
		errs = append(errs, s.b.Delete(ctx, k))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("s3checkpoint: sweep orphans: %w", err)
	}
	return del, nil
}

var _ engine.RemoteCheckpointStorage = (*Storage)(nil)
