package video

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// fragmentPrefix begins every fragment number: the numbers have the
// service's 47 digits, the last 36 the fragment's sequence in its stream,
// so that they sort as strings and as numbers in the order stored.
const fragmentPrefix = "91343852333"

// FragmentNumber is the fragment number of the seq'th fragment of a stream.
func FragmentNumber(seq uint64) string {
	return fragmentPrefix + fmt.Sprintf("%036d", seq)
}

// ParseFragmentNumber returns the sequence of a fragment number.
func ParseFragmentNumber(n string) (uint64, bool) {
	if len(n) != len(fragmentPrefix)+36 || !strings.HasPrefix(n, fragmentPrefix) {
		return 0, false
	}
	seq, err := strconv.ParseUint(strings.TrimLeft(n[len(fragmentPrefix):], "0"), 10, 64)
	if err != nil {
		return 0, n[len(fragmentPrefix):] == strings.Repeat("0", 36)
	}
	return seq, true
}

// NewFragment is a fragment to append: one cluster with the Segment's Info
// and Tracks it was read under and the producer's tags that came with it.
type NewFragment struct {
	Producer time.Time
	// Server is when the fragment's first byte arrived (zero: now).
	Server   time.Time
	Duration time.Duration
	Info     Info
	Tracks   Tracks
	Tags     []Tags
	Cluster  Cluster
}

// Appended is what Append stored.
type Appended struct {
	FragmentInfo
	// Persisted is false for a stream without retention: the fragment is
	// only kept in memory for live readers.
	Persisted bool
}

func docSize(r record) int64 {
	return int64(len(docStart)+len(r.head)+len(r.tags)+len(r.cluster)) + int64(len(fragmentTags(r)))
}

// fragmentTags is the Tags element of the service's tags of a fragment.
func fragmentTags(r record) []byte {
	b, err := serviceTags(
		TagFragmentNumber, FragmentNumber(r.seq),
		TagServerTimestamp, formatSeconds(r.server),
		TagProducerTimestamp, formatSeconds(r.producer),
	)
	if err != nil {
		panic(fmt.Sprintf("video: the service tags do not marshal: %v", err)) // strings only
	}
	return b
}

// formatSeconds writes a time as the service does in its tags: seconds since
// the epoch with milliseconds.
func formatSeconds(ns int64) string {
	ms := ns / int64(time.Millisecond)
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

// Append stores f as the next fragment of the named stream: durably (the
// segment file fsynced) before it returns, unless the stream has no
// retention.
func (s *Store) Append(ctx context.Context, name string, f NewFragment) (Appended, error) {
	st, err := s.lookup(name, "")
	if err != nil {
		return Appended{}, err
	}
	head, err := marshalElement(&infoElem{f.Info})
	if err != nil {
		return Appended{}, err
	}
	tr, err := marshalElement(&tracksElem{f.Tracks})
	if err != nil {
		return Appended{}, err
	}
	head = append(head, tr...)
	var tags []byte
	for _, t := range f.Tags {
		b, err := marshalElement(&tagsElem{t})
		if err != nil {
			return Appended{}, err
		}
		tags = append(tags, b...)
	}
	cl, err := marshalElement(&clusterElem{f.Cluster})
	if err != nil {
		return Appended{}, err
	}
	now := s.clk.Now()
	server := f.Server
	if server.IsZero() {
		server = now
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted {
		return Appended{}, fmt.Errorf("%w: %s", ErrStreamNotFound, name)
	}
	r := record{
		seq: st.lastSeq + 1, producer: f.Producer.UnixNano(), server: server.UnixNano(),
		durNano: int64(f.Duration), head: head, tags: tags, cluster: cl,
	}
	b := r.encode()
	e := fragEntry{seq: r.seq, producer: r.producer, server: r.server, durNano: r.durNano, size: docSize(r), n: int64(len(b))}
	persisted := st.info.DataRetentionInHours > 0
	if persisted {
		if len(st.files) == 0 || st.files[len(st.files)-1].size >= s.opts.SegmentBytes {
			var id uint64 = 1
			if len(st.files) > 0 {
				id = st.files[len(st.files)-1].id + 1
			}
			sf, err := createSegment(st.dir, id)
			if err != nil {
				return Appended{}, err
			}
			st.files = append(st.files, sf)
		}
		sf := st.files[len(st.files)-1]
		if _, err := sf.f.WriteAt(b, sf.size); err != nil {
			return Appended{}, fmt.Errorf("video: write fragment: %w", err)
		}
		if err := sf.f.Sync(); err != nil {
			// What was written may or may not be on disk: cut it off, so
			// that an unacknowledged fragment is not found after a restart
			// either.
			_ = sf.f.Truncate(sf.size)
			return Appended{}, fmt.Errorf("video: sync fragment: %w", err)
		}
		e.file, e.off = sf.id, sf.size
		sf.size += int64(len(b))
	} else {
		e.mem = b
	}
	st.lastSeq = r.seq
	st.lastProducer = r.producer
	st.frags = append(st.frags, e)
	if !persisted && len(st.frags) > s.opts.MemoryFragments {
		st.frags = append(st.frags[:0:0], st.frags[len(st.frags)-s.opts.MemoryFragments:]...)
	}
	if err := s.trimLocked(st, now); err != nil {
		return Appended{}, err
	}
	close(st.notify)
	st.notify = make(chan struct{})
	return Appended{FragmentInfo: e.info(), Persisted: persisted}, nil
}

// LastProducerTimestamp is the producer timestamp of the stream's newest
// fragment (zero without one).
func (s *Store) LastProducerTimestamp(name string) (time.Time, error) {
	st, err := s.lookup(name, "")
	if err != nil {
		return time.Time{}, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lastSeq == 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, st.lastProducer), nil
}

func (e fragEntry) info() FragmentInfo {
	return FragmentInfo{
		Number:            FragmentNumber(e.seq),
		ProducerTimestamp: time.Unix(0, e.producer).UTC(),
		ServerTimestamp:   time.Unix(0, e.server).UTC(),
		Duration:          time.Duration(e.durNano),
		Size:              e.size,
	}
}

// trimLocked drops the fragments older than the stream's retention (by
// server timestamp) and removes segment files that hold none still kept.
func (s *Store) trimLocked(st *stream, now time.Time) error {
	if st.info.DataRetentionInHours <= 0 {
		return nil
	}
	cut := now.Add(-time.Duration(st.info.DataRetentionInHours) * time.Hour).UnixNano()
	i := 0
	for i < len(st.frags) && st.frags[i].server < cut {
		i++
	}
	if i == 0 {
		return nil
	}
	st.frags = append(st.frags[:0:0], st.frags[i:]...)
	var firstFile uint64
	if len(st.frags) > 0 {
		firstFile = st.frags[0].file
	} else if len(st.files) > 0 {
		firstFile = st.files[len(st.files)-1].id
	}
	keep := st.files[:0]
	for j, f := range st.files {
		if f.id < firstFile && j < len(st.files)-1 {
			f.f.Close()
			if err := removeFile(segName(st.dir, f.id)); err != nil {
				return err
			}
			continue
		}
		keep = append(keep, f)
	}
	st.files = keep
	return nil
}

// Trim applies retention to every stream now (Append does it to its stream
// as it goes; this is for streams no one writes to).
func (s *Store) Trim() error {
	s.mu.Lock()
	sts := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		sts = append(sts, st)
	}
	s.mu.Unlock()
	now := s.clk.Now()
	for _, st := range sts {
		st.mu.Lock()
		err := s.trimLocked(st, now)
		st.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// retainedLocked is the index of the first fragment within retention now
// (fragments past it may not have been trimmed yet).
func (s *Store) retainedLocked(st *stream) int {
	if st.info.DataRetentionInHours <= 0 {
		return 0
	}
	cut := s.clk.Now().Add(-time.Duration(st.info.DataRetentionInHours) * time.Hour).UnixNano()
	return sort.Search(len(st.frags), func(i int) bool { return st.frags[i].server >= cut })
}

// Fragments returns, ordered by fragment number, the retained fragments of
// the stream whose selected timestamp t satisfies start <= t <= end.
func (s *Store) Fragments(ctx context.Context, name string, ts TimestampType, start, end time.Time) ([]FragmentInfo, error) {
	st, err := s.lookup(name, "")
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []FragmentInfo
	lo, hi := start.UnixNano(), end.UnixNano()
	for _, e := range st.frags[s.retainedLocked(st):] {
		if e.mem != nil {
			continue // not durable
		}
		t := e.producer
		if ts == ServerTimestamp {
			t = e.server
		}
		// Timestamps are compared as the APIs show them, to the
		// millisecond: a fragment shown at the range's end is in it.
		if t -= t % int64(time.Millisecond); t >= lo && t <= hi {
			out = append(out, e.info())
		}
	}
	return out, nil
}

// StoredFragment is one fragment read back.
type StoredFragment struct {
	FragmentInfo
	seq                 uint64
	head, tags, cluster []byte
}

// Document is the fragment as a self-contained Matroska document: the EBML
// header, an unknown-size Segment with Info and Tracks, the service's tags
// (number and timestamps), the producer's tags, the Cluster, then a Tags
// element of extra (name, value, ...) pairs if any.
func (f StoredFragment) Document(extra ...string) ([]byte, error) {
	r := record{seq: f.seq, producer: f.ProducerTimestamp.UnixNano(), server: f.ServerTimestamp.UnixNano()}
	ft := fragmentTags(r)
	n := len(docStart) + len(f.head) + len(ft) + len(f.tags) + len(f.cluster)
	var tail []byte
	if len(extra) > 0 {
		var err error
		if tail, err = serviceTags(extra...); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, n+len(tail))
	out = append(out, docStart...)
	out = append(out, f.head...)
	out = append(out, ft...)
	out = append(out, f.tags...)
	out = append(out, f.cluster...)
	out = append(out, tail...)
	return out, nil
}

// Cluster returns the fragment's Cluster, decoded.
func (f StoredFragment) DecodeCluster() (Cluster, error) {
	return decodeCluster(f.cluster)
}

// DecodeTracks returns the fragment's Info and Tracks, decoded.
func (f StoredFragment) DecodeTracks() (Info, Tracks, error) {
	return decodeHead(f.head)
}

// DecodeTags returns the producer's tags of the fragment.
func (f StoredFragment) DecodeTags() ([]Tags, error) {
	return decodeTags(f.tags)
}

// readLocked reads entry e's record.
func (st *stream) readLocked(e fragEntry) (StoredFragment, error) {
	b := e.mem
	if b == nil {
		var sf *segFile
		for _, f := range st.files {
			if f.id == e.file {
				sf = f
				break
			}
		}
		if sf == nil {
			return StoredFragment{}, fmt.Errorf("%w: %s", ErrFragmentNotFound, FragmentNumber(e.seq))
		}
		b = make([]byte, e.n)
		if _, err := sf.f.ReadAt(b, e.off); err != nil {
			return StoredFragment{}, fmt.Errorf("video: read fragment %s: %w", FragmentNumber(e.seq), err)
		}
	}
	if len(b) < recordHeader {
		return StoredFragment{}, errBadRecord
	}
	r, err := decodeRecord(b[recordHeader:])
	if err != nil {
		return StoredFragment{}, fmt.Errorf("video: fragment %s: %w", FragmentNumber(e.seq), err)
	}
	return StoredFragment{FragmentInfo: e.info(), seq: r.seq, head: r.head, tags: r.tags, cluster: r.cluster}, nil
}

// indexLocked finds the retained fragment seq.
func (s *Store) indexLocked(st *stream, seq uint64) (int, bool) {
	lo := s.retainedLocked(st)
	i := lo + sort.Search(len(st.frags)-lo, func(i int) bool { return st.frags[lo+i].seq >= seq })
	return i, i < len(st.frags) && st.frags[i].seq == seq
}

// ReadFragment returns one retained fragment by number.
func (s *Store) ReadFragment(ctx context.Context, name, number string) (StoredFragment, error) {
	st, err := s.lookup(name, "")
	if err != nil {
		return StoredFragment{}, err
	}
	seq, ok := ParseFragmentNumber(number)
	if !ok {
		return StoredFragment{}, fmt.Errorf("%w: %s", ErrFragmentNotFound, number)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	i, ok := s.indexLocked(st, seq)
	if !ok {
		return StoredFragment{}, fmt.Errorf("%w: %s", ErrFragmentNotFound, number)
	}
	return st.readLocked(st.frags[i])
}

// Fragment returns one fragment as a self-contained Matroska document.
func (s *Store) Fragment(ctx context.Context, name, number string) ([]byte, error) {
	f, err := s.ReadFragment(ctx, name, number)
	if err != nil {
		return nil, err
	}
	return f.Document()
}

// StartSelector says where a Cursor starts, as GetMedia's StartSelector.
type StartSelector struct {
	// Type is NOW, EARLIEST, FRAGMENT_NUMBER, PRODUCER_TIMESTAMP,
	// SERVER_TIMESTAMP or CONTINUATION_TOKEN.
	Type                string
	AfterFragmentNumber string
	StartTimestamp      time.Time
	ContinuationToken   string
}

// Cursor reads a stream's fragments in order from a start, waiting for new
// ones at the end.
type Cursor struct {
	s    *Store
	st   *stream
	next uint64 // the sequence of the next fragment to return
}

// NewCursor starts reading the named stream (or the one whose ARN is arn)
// at sel. A fragment number or continuation token that names no retained
// fragment wraps ErrFragmentNotFound.
func (s *Store) NewCursor(ctx context.Context, name, arn string, sel StartSelector) (*Cursor, error) {
	st, err := s.lookup(name, arn)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	c := &Cursor{s: s, st: st}
	lo := s.retainedLocked(st)
	kept := st.frags[lo:]
	switch sel.Type {
	case "NOW":
		c.next = st.lastSeq + 1
	case "EARLIEST":
		c.next = st.lastSeq + 1
		if len(kept) > 0 {
			c.next = kept[0].seq
		}
	case "FRAGMENT_NUMBER", "CONTINUATION_TOKEN":
		n := sel.AfterFragmentNumber
		if sel.Type == "CONTINUATION_TOKEN" {
			n = sel.ContinuationToken
		}
		seq, ok := ParseFragmentNumber(n)
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrFragmentNotFound, n)
		}
		if _, ok := s.indexLocked(st, seq); !ok {
			return nil, fmt.Errorf("%w: %s", ErrFragmentNotFound, n)
		}
		c.next = seq + 1
	case "PRODUCER_TIMESTAMP", "SERVER_TIMESTAMP":
		t := sel.StartTimestamp.UnixNano()
		c.next = st.lastSeq + 1
		for _, e := range kept {
			ts := e.producer
			if sel.Type == "SERVER_TIMESTAMP" {
				ts = e.server
			}
			// The fragment that holds t, or else the first after it.
			if ts >= t || (ts <= t && t < ts+e.durNano) {
				c.next = e.seq
				break
			}
		}
	default:
		return nil, fmt.Errorf("%w: start selector type %q", ErrInvalidArgument, sel.Type)
	}
	return c, nil
}

// Next returns the next fragment, waiting for one to be stored, and how far
// (by server timestamps) it is behind the stream's newest. It ends with
// ErrStreamNotFound when the stream is deleted, ErrClosed when the store
// is, or the context's error.
func (c *Cursor) Next(ctx context.Context) (StoredFragment, time.Duration, error) {
	for {
		c.st.mu.Lock()
		if c.st.deleted {
			c.st.mu.Unlock()
			if c.s.isClosed() {
				return StoredFragment{}, 0, ErrClosed
			}
			return StoredFragment{}, 0, fmt.Errorf("%w: %s", ErrStreamNotFound, c.st.info.Name)
		}
		lo := c.s.retainedLocked(c.st)
		i := lo + sort.Search(len(c.st.frags)-lo, func(i int) bool { return c.st.frags[lo+i].seq >= c.next })
		if i < len(c.st.frags) {
			e := c.st.frags[i]
			f, err := c.st.readLocked(e)
			behind := time.Duration(c.st.frags[len(c.st.frags)-1].server - e.server)
			c.st.mu.Unlock()
			if err != nil {
				return StoredFragment{}, 0, err
			}
			c.next = e.seq + 1
			return f, behind, nil
		}
		wait := c.st.notify
		c.st.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return StoredFragment{}, 0, ctx.Err()
		}
	}
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

var errNoElement = errors.New("video: stored element missing")

// ErrorDocument is a Matroska document holding only the service's error
// tags, as GetMedia ends with when it cannot go on.
func ErrorDocument(id int, description string) ([]byte, error) {
	tags, err := serviceTags(TagErrorCode, description, TagErrorID, strconv.Itoa(id))
	if err != nil {
		return nil, err
	}
	return append(append([]byte{}, docStart...), tags...), nil
}

// Newest returns the stream's newest retained fragment (false: none).
func (s *Store) Newest(ctx context.Context, name string) (FragmentInfo, bool, error) {
	st, err := s.lookup(name, "")
	if err != nil {
		return FragmentInfo{}, false, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.frags) <= s.retainedLocked(st) {
		return FragmentInfo{}, false, nil
	}
	return st.frags[len(st.frags)-1].info(), true, nil
}
