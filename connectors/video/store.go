package video

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
	"github.com/sluicehq/sluice/internal/durable"
)

// The store keeps every stream's definition in DIR/streams.json (replaced
// atomically and durably on each change) and each stream's fragments in
// segment files under DIR/streams/CREATIONMS_NAME/ (segment.go). The index
// of fragments (number, both timestamps, place on disk) is in memory,
// rebuilt from the segment files at Open.

var _ Archive = (*Store)(nil)

// Errors of the control plane, wrapped by the Store's methods.
var (
	ErrStreamExists    = errors.New("video: stream already exists")
	ErrVersionMismatch = errors.New("video: stream version mismatch")
	ErrInvalidArgument = errors.New("video: invalid argument")
	ErrTooManyTags     = errors.New("video: too many tags")
	ErrClosed          = errors.New("video: store closed")
)

// Options configure a Store.
type Options struct {
	// Dir holds the store's data. Required.
	Dir string
	// Clock gives server timestamps and drives retention (default: the
	// real clock).
	Clock clock.Clock
	// Region and AccountID appear in ARNs (defaults us-east-1 and
	// 000000000000, as the log's).
	Region    string
	AccountID string
	// SegmentBytes is the size at which a stream's segment file is closed
	// and a new one begun (default 64 MiB).
	SegmentBytes int64
	// MemoryFragments is how many fragments a stream with no retention
	// (DataRetentionInHours 0) keeps in memory for live readers (default
	// 16).
	MemoryFragments int
}

// Store is the video streams' storage. It is safe for concurrent use.
type Store struct {
	opts Options
	clk  clock.Clock

	mu      sync.Mutex
	streams map[string]*stream // by name
	closed  bool
}

// stream is one video stream and its fragments.
type stream struct {
	dir string

	mu      sync.Mutex
	info    StreamInfo
	tags    map[string]string
	frags   []fragEntry // ascending seq; retained (and not yet trimmed) only
	files   []*segFile  // ascending id; the last is the active one
	lastSeq uint64
	notify  chan struct{} // closed and replaced at each append, and at deletion
	deleted bool
	// lastProducer is the producer timestamp of the newest fragment.
	lastProducer int64
}

type fragEntry struct {
	seq                       uint64
	producer, server, durNano int64
	size                      int64 // of the Fragment document
	file                      uint64
	off, n                    int64
	mem                       []byte // the record, for a stream without retention
}

// streamMeta is a stream's definition in streams.json.
type streamMeta struct {
	Name                 string            `json:"Name"`
	ARN                  string            `json:"ARN"`
	MediaType            string            `json:"MediaType,omitempty"`
	DeviceName           string            `json:"DeviceName,omitempty"`
	KmsKeyID             string            `json:"KmsKeyId,omitempty"`
	Version              string            `json:"Version"`
	CreationTimeMillis   int64             `json:"CreationTimeMillis"`
	DataRetentionInHours int               `json:"DataRetentionInHours"`
	Tags                 map[string]string `json:"Tags,omitempty"`
}

type metaFile struct {
	Streams []streamMeta `json:"Streams"`
}

// Open opens (or creates) the store in opts.Dir.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("video: Options.Dir is required")
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	if opts.MemoryFragments <= 0 {
		opts.MemoryFragments = 16
	}
	s := &Store{opts: opts, clk: clock.Or(opts.Clock), streams: map[string]*stream{}}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "streams"), 0o755); err != nil {
		return nil, fmt.Errorf("video: create %s: %w", opts.Dir, err)
	}
	b, err := os.ReadFile(s.metaPath())
	var mf metaFile
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("video: read stream definitions: %w", err)
	default:
		if err := json.Unmarshal(b, &mf); err != nil {
			return nil, fmt.Errorf("video: stream definitions %s: %w", s.metaPath(), err)
		}
	}
	keep := map[string]bool{}
	for _, m := range mf.Streams {
		st := &stream{
			dir: s.streamDir(m.Name, m.CreationTimeMillis),
			info: StreamInfo{
				Name: m.Name, ARN: m.ARN, MediaType: m.MediaType, DeviceName: m.DeviceName,
				KmsKeyID: m.KmsKeyID, Version: m.Version, Status: "ACTIVE",
				CreationTime:         time.UnixMilli(m.CreationTimeMillis).UTC(),
				DataRetentionInHours: m.DataRetentionInHours,
			},
			tags:   m.Tags,
			notify: make(chan struct{}),
		}
		if st.tags == nil {
			st.tags = map[string]string{}
		}
		keep[filepath.Base(st.dir)] = true
		if err := st.load(); err != nil {
			s.closeStreams()
			return nil, err
		}
		s.streams[m.Name] = st
	}
	// Directories of streams deleted before a crash finished removing them.
	ents, err := os.ReadDir(filepath.Join(opts.Dir, "streams"))
	if err != nil {
		s.closeStreams()
		return nil, fmt.Errorf("video: list streams: %w", err)
	}
	for _, e := range ents {
		if !keep[e.Name()] {
			if err := os.RemoveAll(filepath.Join(opts.Dir, "streams", e.Name())); err != nil {
				s.closeStreams()
				return nil, fmt.Errorf("video: remove a deleted stream's data: %w", err)
			}
		}
	}
	return s, nil
}

func (s *Store) metaPath() string { return filepath.Join(s.opts.Dir, "streams.json") }

func (s *Store) streamDir(name string, creationMs int64) string {
	return filepath.Join(s.opts.Dir, "streams", strconv.FormatInt(creationMs, 10)+"_"+name)
}

// load opens st's segment files and rebuilds its index; a torn or damaged
// tail of the last file (a crash during a write) is cut off.
func (st *stream) load() error {
	if err := os.MkdirAll(st.dir, 0o755); err != nil {
		return fmt.Errorf("video: create %s: %w", st.dir, err)
	}
	ids, err := listSegments(st.dir)
	if err != nil {
		return err
	}
	for i, id := range ids {
		f, err := os.OpenFile(segName(st.dir, id), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("video: open segment: %w", err)
		}
		sf := &segFile{id: id, f: f}
		end, err := scanSegment(f, func(off, n int64, r record) {
			st.frags = append(st.frags, fragEntry{
				seq: r.seq, producer: r.producer, server: r.server, durNano: r.durNano,
				size: docSize(r), file: id, off: off, n: n,
			})
			st.lastSeq = r.seq
			st.lastProducer = r.producer
		})
		if err != nil {
			f.Close()
			return err
		}
		stt, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("video: stat segment: %w", err)
		}
		if end < stt.Size() {
			if i != len(ids)-1 {
				f.Close()
				return fmt.Errorf("video: segment %s is damaged at offset %d", f.Name(), end)
			}
			if err := f.Truncate(end); err != nil {
				f.Close()
				return fmt.Errorf("video: cut the torn tail of %s: %w", f.Name(), err)
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return fmt.Errorf("video: sync %s: %w", f.Name(), err)
			}
		}
		sf.size = end
		st.files = append(st.files, sf)
	}
	return nil
}

// Close closes the store's files; live readers end with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeStreams()
}

func (s *Store) closeStreams() error {
	var first error
	for _, st := range s.streams {
		st.mu.Lock()
		for _, f := range st.files {
			if err := f.f.Close(); err != nil && first == nil {
				first = fmt.Errorf("video: close segment: %w", err)
			}
		}
		st.files = nil
		if !st.deleted {
			st.deleted = true
			close(st.notify)
		}
		st.mu.Unlock()
	}
	return first
}

// writeMetaLocked writes streams.json; s.mu is held.
func (s *Store) writeMetaLocked() error {
	mf := metaFile{Streams: []streamMeta{}}
	for _, st := range s.streams {
		st.mu.Lock()
		i := st.info
		tags := make(map[string]string, len(st.tags))
		for k, v := range st.tags {
			tags[k] = v
		}
		st.mu.Unlock()
		mf.Streams = append(mf.Streams, streamMeta{
			Name: i.Name, ARN: i.ARN, MediaType: i.MediaType, DeviceName: i.DeviceName,
			KmsKeyID: i.KmsKeyID, Version: i.Version, CreationTimeMillis: i.CreationTime.UnixMilli(),
			DataRetentionInHours: i.DataRetentionInHours, Tags: tags,
		})
	}
	sort.Slice(mf.Streams, func(a, b int) bool { return mf.Streams[a].Name < mf.Streams[b].Name })
	b, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return fmt.Errorf("video: encode stream definitions: %w", err)
	}
	if err := durable.WriteFile(s.metaPath(), b, 0o644); err != nil {
		return fmt.Errorf("video: write stream definitions: %w", err)
	}
	return nil
}

func newVersion() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("video: crypto/rand: %v", err)) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// CreateInput is what CreateStream takes.
type CreateInput struct {
	Name, DeviceName, MediaType, KmsKeyID string
	DataRetentionInHours                  int
	Tags                                  map[string]string
}

// CreateStream creates a stream (ACTIVE at once) and returns it.
func (s *Store) CreateStream(ctx context.Context, in CreateInput) (StreamInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return StreamInfo{}, ErrClosed
	}
	if _, ok := s.streams[in.Name]; ok {
		return StreamInfo{}, fmt.Errorf("%w: %s", ErrStreamExists, in.Name)
	}
	if len(in.Tags) > 50 {
		return StreamInfo{}, ErrTooManyTags
	}
	now := s.clk.Now().UTC().Truncate(time.Millisecond)
	ms := now.UnixMilli()
	// Two streams of one name created in one millisecond (one deleted in
	// between) must not share a directory.
	for {
		if _, err := os.Stat(s.streamDir(in.Name, ms)); errors.Is(err, os.ErrNotExist) {
			break
		}
		ms++
	}
	kms := in.KmsKeyID
	if kms == "" {
		kms = "arn:aws:kms:" + s.opts.Region + ":" + s.opts.AccountID + ":alias/aws/kinesisvideo"
	}
	st := &stream{
		dir: s.streamDir(in.Name, ms),
		info: StreamInfo{
			Name: in.Name, ARN: s.arn(in.Name, ms), MediaType: in.MediaType, DeviceName: in.DeviceName,
			KmsKeyID: kms, Version: newVersion(), Status: "ACTIVE", CreationTime: time.UnixMilli(ms).UTC(),
			DataRetentionInHours: in.DataRetentionInHours,
		},
		tags:   map[string]string{},
		notify: make(chan struct{}),
	}
	for k, v := range in.Tags {
		st.tags[k] = v
	}
	if err := os.MkdirAll(st.dir, 0o755); err != nil {
		return StreamInfo{}, fmt.Errorf("video: create stream directory: %w", err)
	}
	if err := durable.SyncDirAndParent(st.dir); err != nil {
		return StreamInfo{}, fmt.Errorf("video: create stream directory: %w", err)
	}
	s.streams[in.Name] = st
	if err := s.writeMetaLocked(); err != nil {
		delete(s.streams, in.Name)
		return StreamInfo{}, err
	}
	return st.info, nil
}

func (s *Store) arn(name string, ms int64) string {
	return "arn:aws:kinesisvideo:" + s.opts.Region + ":" + s.opts.AccountID + ":stream/" + name + "/" + strconv.FormatInt(ms, 10)
}

// lookup finds a stream by name or, when name is empty, by ARN.
func (s *Store) lookup(name, arn string) (*stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.lookupLocked(name, arn)
}

func (s *Store) lookupLocked(name, arn string) (*stream, error) {
	if name != "" {
		if st, ok := s.streams[name]; ok && (arn == "" || st.info.ARN == arn) {
			return st, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrStreamNotFound, name)
	}
	for _, st := range s.streams {
		if st.info.ARN == arn {
			return st, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrStreamNotFound, arn)
}

// Stream returns the stream named name or, if name is empty, the stream
// whose ARN is arn.
func (s *Store) Stream(ctx context.Context, name, arn string) (StreamInfo, error) {
	st, err := s.lookup(name, arn)
	if err != nil {
		return StreamInfo{}, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.info, nil
}

// ListStreams returns the streams whose names begin with prefix, by name.
func (s *Store) ListStreams(prefix string) []StreamInfo {
	s.mu.Lock()
	var out []StreamInfo
	for name, st := range s.streams {
		if strings.HasPrefix(name, prefix) {
			st.mu.Lock()
			out = append(out, st.info)
			st.mu.Unlock()
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DeleteStream deletes the stream whose ARN is arn, if its version is
// version (or version is empty); its fragments go with it.
func (s *Store) DeleteStream(ctx context.Context, arn, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	st, err := s.lookupLocked("", arn)
	if err != nil {
		return err
	}
	st.mu.Lock()
	if version != "" && version != st.info.Version {
		st.mu.Unlock()
		return ErrVersionMismatch
	}
	st.mu.Unlock()
	delete(s.streams, st.info.Name)
	if err := s.writeMetaLocked(); err != nil {
		s.streams[st.info.Name] = st
		return err
	}
	st.mu.Lock()
	for _, f := range st.files {
		f.f.Close()
	}
	st.files = nil
	st.frags = nil
	st.deleted = true
	close(st.notify)
	st.mu.Unlock()
	if err := os.RemoveAll(st.dir); err != nil {
		return fmt.Errorf("video: remove the stream's data: %w", err)
	}
	return nil
}

// update applies fn to the stream's definition under a version check and
// writes the definitions; fn returns whether the version changes.
func (s *Store) update(name, arn, version string, fn func(st *stream) (bool, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	st, err := s.lookupLocked(name, arn)
	if err != nil {
		return err
	}
	st.mu.Lock()
	if version != "" && version != st.info.Version {
		st.mu.Unlock()
		return ErrVersionMismatch
	}
	old := st.info
	oldTags := make(map[string]string, len(st.tags))
	for k, v := range st.tags {
		oldTags[k] = v
	}
	bump, err := fn(st)
	if err == nil && bump {
		st.info.Version = newVersion()
	}
	st.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.writeMetaLocked(); err != nil {
		st.mu.Lock()
		st.info, st.tags = old, oldTags
		st.mu.Unlock()
		return err
	}
	return nil
}

// UpdateStream changes a stream's device name and media type (nil: kept).
func (s *Store) UpdateStream(ctx context.Context, name, arn, version string, device, mediaType *string) error {
	return s.update(name, arn, version, func(st *stream) (bool, error) {
		if device != nil {
			st.info.DeviceName = *device
		}
		if mediaType != nil {
			st.info.MediaType = *mediaType
		}
		return true, nil
	})
}

// UpdateDataRetention adds (increase) or removes hours of retention.
func (s *Store) UpdateDataRetention(ctx context.Context, name, arn, version string, increase bool, hours int) error {
	return s.update(name, arn, version, func(st *stream) (bool, error) {
		if increase {
			st.info.DataRetentionInHours += hours
			return true, nil
		}
		if hours > st.info.DataRetentionInHours {
			return false, fmt.Errorf("%w: the retention would be negative", ErrInvalidArgument)
		}
		st.info.DataRetentionInHours -= hours
		return true, nil
	})
}

// StreamTags returns a stream's tags.
func (s *Store) StreamTags(ctx context.Context, name, arn string) (map[string]string, error) {
	st, err := s.lookup(name, arn)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]string, len(st.tags))
	for k, v := range st.tags {
		out[k] = v
	}
	return out, nil
}

// TagStream adds or replaces tags; a stream has at most 50.
func (s *Store) TagStream(ctx context.Context, name, arn string, tags map[string]string) error {
	return s.update(name, arn, "", func(st *stream) (bool, error) {
		n := len(st.tags)
		for k := range tags {
			if _, ok := st.tags[k]; !ok {
				n++
			}
		}
		if n > 50 {
			return false, ErrTooManyTags
		}
		for k, v := range tags {
			st.tags[k] = v
		}
		return false, nil
	})
}

// UntagStream removes tags (keys not there are ignored).
func (s *Store) UntagStream(ctx context.Context, name, arn string, keys []string) error {
	return s.update(name, arn, "", func(st *stream) (bool, error) {
		for _, k := range keys {
			delete(st.tags, k)
		}
		return false, nil
	})
}
