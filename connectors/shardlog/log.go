package shardlog

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"

	"github.com/sluicehq/sluice/connectors/shardlog/internal/storage"
	"github.com/sluicehq/sluice/internal/durable"
)

// FormatVersion is the version of the log directory layout and metadata
// files (docs/shardlog-format.md). Segment files carry their own version.
const FormatVersion = 1

// StreamStatus is a stream's state.
type StreamStatus string

// Stream states.
const (
	StatusCreating StreamStatus = "CREATING"
	StatusDeleting StreamStatus = "DELETING"
	StatusActive   StreamStatus = "ACTIVE"
	StatusUpdating StreamStatus = "UPDATING"
)

// StreamMode is a stream's capacity mode.
type StreamMode string

// Capacity modes.
const (
	ModeProvisioned StreamMode = "PROVISIONED"
	ModeOnDemand    StreamMode = "ON_DEMAND"
)

// Retention bounds, in hours.
const (
	DefaultRetentionHours = 24
	MinRetentionHours     = 24
	MaxRetentionHours     = 8760
)

// Record limits.
const (
	MaxRecordBytes     = 1 << 20 // data blob
	MaxPartitionKeyLen = 256
	MaxPutRecords      = 500
	MaxPutRecordsBytes = 5 << 20
	MaxGetRecords      = 10000
	MaxGetRecordsBytes = 10 << 20
	MaxConsumers       = 20
	MaxTagsPerStream   = 50
	subscribeCooldown  = 5 * time.Second
	nextTokenTTL       = 5 * time.Minute
	// MaxTargetShardCount bounds UpdateShardCount's target.
	MaxTargetShardCount = 10000
)

// Log is a set of streams stored under one directory: Sluice's built-in
// Kinesis-model log, used in process. Every method is safe for concurrent
// use. Methods that take a context block (on fsync or on new data) and give
// up when it ends.
type Log struct {
	opts  Options
	clock Clock
	key   []byte // signs iterators and next tokens

	mu struct {
		sync.RWMutex
		streams map[string]*stream
		closed  bool
	}

	lock *os.File // flock on DIR/LOCK: one process per directory

	// openShards counts open shards of live streams (the account quota).
	openShards atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
}

// shard is one shard of a stream.
type shard struct {
	idx       uint32
	id        string
	parent    string
	adjParent string
	parents   []string // every shard whose range it took over
	rng       HashKeyRange
	created   time.Time
	log       *storage.Shard
	lim       *limiter

	// Guarded by the stream's mu.
	closed   bool
	closedAt time.Time
	end      uint64 // offset after the last record, once closed
	children []string
	closedCh chan struct{} // closed when the shard is closed

	// readLag is the MillisBehindLatest of the shard's last GetRecords
	// answer, -1 before any (for the service's lag figures).
	readLag atomic.Int64
}

type consumer struct {
	name    string
	arn     string
	created time.Time
	status  string // CREATING, ACTIVE, DELETING
	until   time.Time
	// lag is the MillisBehindLatest of the last event sent to the
	// consumer, by shard id (*atomic.Int64).
	lag sync.Map
}

// stream is one stream. mu guards everything below it; the data path holds
// it for reading (routing and appends), resharding for writing, so a shard
// is never appended to after it is closed.
type stream struct {
	l       *Log
	name    string
	arn     string
	dir     string
	created time.Time

	mu          sync.RWMutex
	status      StreamStatus
	statusUntil time.Time
	pending     *pendingReshard // a split or merge applied when ACTIVE again
	pendingCh   chan struct{}   // closed (and replaced) when a reshard is deferred
	mode        StreamMode
	retention   int
	shards      []*shard // every retained shard, ascending index
	open        []*shard // open shards, ascending hash range
	nextIndex   uint32
	tags        map[string]string
	consumers   []*consumer
	encryption  string
	keyID       string
	monitoring  []string
	deleted     bool
}

// Open opens (creating if needed) the log in opts.Dir and recovers every
// stream: torn tails of a crash are cut, every acknowledged record is kept.
func Open(opts Options) (*Log, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	l := &Log{opts: opts, clock: opts.Clock, stop: make(chan struct{})}
	l.mu.streams = map[string]*stream{}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "streams"), 0o755); err != nil {
		return nil, fmt.Errorf("shardlog: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(opts.Dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("shardlog: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("shardlog: %s is in use by another process: %w", opts.Dir, err)
	}
	l.lock = lock
	if err := l.loadOrInitMeta(); err != nil {
		lock.Close()
		return nil, err
	}
	os.RemoveAll(filepath.Join(opts.Dir, "trash"))
	ents, err := os.ReadDir(filepath.Join(opts.Dir, "streams"))
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("shardlog: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		st, err := l.loadStream(filepath.Join(opts.Dir, "streams", e.Name()))
		if err != nil {
			l.closeStreams()
			lock.Close()
			return nil, err
		}
		if st != nil {
			l.mu.streams[st.name] = st
			l.openShards.Add(int64(len(st.open)))
		}
	}
	if opts.RetentionInterval > 0 {
		l.wg.Add(1)
		go l.janitor()
	}
	return l, nil
}

type logMeta struct {
	Format      int    `json:"format"`
	IteratorKey []byte `json:"iterator_key"`
}

func (l *Log) loadOrInitMeta() error {
	p := filepath.Join(l.opts.Dir, "shardlog.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		m := logMeta{Format: FormatVersion, IteratorKey: make([]byte, 32)}
		if _, err := rand.Read(m.IteratorKey); err != nil {
			return fmt.Errorf("shardlog: %w", err)
		}
		if err := writeJSONAtomic(p, m); err != nil {
			return err
		}
		l.key = m.IteratorKey
		return nil
	}
	if err != nil {
		return fmt.Errorf("shardlog: %w", err)
	}
	var m logMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("shardlog: %s: %w", p, err)
	}
	if m.Format != FormatVersion {
		return fmt.Errorf("shardlog: %s: format %d, this build reads %d", p, m.Format, FormatVersion)
	}
	if len(m.IteratorKey) < 16 {
		return fmt.Errorf("shardlog: %s: missing iterator key", p)
	}
	l.key = m.IteratorKey
	return nil
}

// writeJSONAtomic writes v to p through a synced temporary file and a
// rename, then syncs the directory, so p is always whole.
func writeJSONAtomic(p string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("shardlog: %w", err)
	}
	if err := durable.WriteFile(p, b, 0o644); err != nil {
		return fmt.Errorf("shardlog: %w", err)
	}
	return nil
}

// Close stops the janitor, ends waiting reads and subscriptions and closes
// every file. Every acknowledged put is already durable.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	l.mu.Unlock()
	close(l.stop)
	l.wg.Wait()
	err := l.closeStreams()
	l.lock.Close() // releases the flock
	return err
}

func (l *Log) closeStreams() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first error
	for _, st := range l.mu.streams {
		st.mu.Lock()
		for _, sh := range st.shards {
			if err := sh.log.Close(); err != nil && first == nil {
				first = err
			}
		}
		st.mu.Unlock()
	}
	return first
}

// Options returns the options the log runs with (defaults filled in).
func (l *Log) Options() Options { return l.opts }

// Now is the log's clock.
func (l *Log) Now() time.Time { return l.clock.Now() }

func (l *Log) janitor() {
	defer l.wg.Done()
	for {
		t := l.clock.NewTimer(l.opts.RetentionInterval)
		select {
		case <-l.stop:
			t.Stop()
			return
		case <-t.C():
		}
		// Errors are retried on the next round; a read never sees an
		// expired record either way (reads filter by arrival time). They
		// are reported, not dropped.
		if err := l.EnforceRetention(); err != nil {
			l.opts.ErrorLog("shardlog: retention: %v", err)
		}
	}
}

// EnforceRetention deletes segments whose records are all past their
// stream's retention and closed shards whose retention has ended. Reads
// never return expired records whether or not this has run.
func (l *Log) EnforceRetention() error {
	now := l.clock.Now()
	l.mu.RLock()
	streams := make([]*stream, 0, len(l.mu.streams))
	for _, st := range l.mu.streams {
		streams = append(streams, st)
	}
	l.mu.RUnlock()
	var first error
	for _, st := range streams {
		if err := st.enforceRetention(now); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (st *stream) enforceRetention(now time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deleted {
		return nil
	}
	ret := time.Duration(st.retention) * time.Hour
	cutoff := now.Add(-ret).UnixMilli()
	var first error
	kept := st.shards[:0]
	changed := false
	for _, sh := range st.shards {
		if sh.closed && now.Sub(sh.closedAt) > ret {
			if err := sh.log.Remove(); err != nil && first == nil {
				first = err
			}
			changed = true
			continue
		}
		if _, err := sh.log.Trim(cutoff); err != nil && first == nil {
			first = err
		}
		kept = append(kept, sh)
	}
	st.shards = kept
	if changed {
		if err := st.saveLocked(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// --- persistence ---

type shardMeta struct {
	Index     uint32   `json:"index"`
	Parent    string   `json:"parent,omitempty"`
	AdjParent string   `json:"adjacent_parent,omitempty"`
	Parents   []string `json:"parents,omitempty"`
	Start     string   `json:"start_hash"`
	End       string   `json:"end_hash"`
	Created   int64    `json:"created_ms"`
	Closed    bool     `json:"closed,omitempty"`
	ClosedAt  int64    `json:"closed_ms,omitempty"`
	EndOffset uint64   `json:"end_offset,omitempty"`
	Children  []string `json:"children,omitempty"`
}

type consumerMeta struct {
	Name    string `json:"name"`
	Created int64  `json:"created_ms"`
	Status  string `json:"status"`
	Until   int64  `json:"until_ms,omitempty"`
}

type streamMeta struct {
	Format      int               `json:"format"`
	Name        string            `json:"name"`
	Created     int64             `json:"created_ms"`
	Status      StreamStatus      `json:"status"`
	StatusUntil int64             `json:"status_until_ms,omitempty"`
	Mode        StreamMode        `json:"mode"`
	Retention   int               `json:"retention_hours"`
	NextIndex   uint32            `json:"next_index"`
	Tags        map[string]string `json:"tags,omitempty"`
	Consumers   []consumerMeta    `json:"consumers,omitempty"`
	Encryption  string            `json:"encryption,omitempty"`
	KeyID       string            `json:"key_id,omitempty"`
	Monitoring  []string          `json:"monitoring,omitempty"`
	Shards      []shardMeta       `json:"shards"`
	// Pending is a reshard to apply at StatusUntil (absent in data of
	// builds before it: none pending).
	Pending *pendingReshard `json:"pending_reshard,omitempty"`
}

func (st *stream) saveLocked() error {
	m := streamMeta{
		Format: FormatVersion, Name: st.name, Created: st.created.UnixMilli(),
		Status: st.status, Mode: st.mode, Retention: st.retention, NextIndex: st.nextIndex,
		Tags: st.tags, Encryption: st.encryption, KeyID: st.keyID, Monitoring: st.monitoring,
		Pending: st.pending,
	}
	if !st.statusUntil.IsZero() {
		m.StatusUntil = st.statusUntil.UnixMilli()
	}
	for _, c := range st.consumers {
		cm := consumerMeta{Name: c.name, Created: c.created.UnixMilli(), Status: c.status}
		if !c.until.IsZero() {
			cm.Until = c.until.UnixMilli()
		}
		m.Consumers = append(m.Consumers, cm)
	}
	for _, sh := range st.shards {
		sm := shardMeta{
			Index: sh.idx, Parent: sh.parent, AdjParent: sh.adjParent, Parents: sh.parents,
			Start: sh.rng.Start.String(), End: sh.rng.End.String(), Created: sh.created.UnixMilli(),
			Closed: sh.closed, EndOffset: sh.end, Children: sh.children,
		}
		if sh.closed {
			sm.ClosedAt = sh.closedAt.UnixMilli()
		}
		m.Shards = append(m.Shards, sm)
	}
	return writeJSONAtomic(filepath.Join(st.dir, "stream.json"), m)
}

// storageOptions are the storage options of shard sh of stream name: a
// closed shard's end is known, so recovery never cuts it; what recovery
// does and any damage found go to the error log with the shard named.
func (l *Log) storageOptions(name string, sh *shard) storage.Options {
	o := storage.Options{SegmentBytes: l.opts.SegmentBytes, Sealed: sh.closed, End: sh.end}
	if l.opts.Sync == SyncNone {
		o.Sync = storage.SyncNone
	}
	id := sh.id
	o.Report = func(e storage.Event) {
		hint := ""
		if e.Kind == storage.EventDamage {
			hint = " (see 'sluice log check'; 'sluice log repair --skip|--salvage' repairs it)"
		}
		l.opts.ErrorLog("shardlog: stream %q shard %s: %s%s", name, id, e, hint)
	}
	return o
}

func (l *Log) loadStream(dir string) (*stream, error) {
	b, err := os.ReadFile(filepath.Join(dir, "stream.json"))
	if errors.Is(err, os.ErrNotExist) {
		// A crash during CreateStream before its metadata was written:
		// nothing in it was ever acknowledged.
		return nil, os.RemoveAll(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("shardlog: %w", err)
	}
	var m streamMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("shardlog: %s: %w", dir, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("shardlog: %s: format %d, this build reads %d", dir, m.Format, FormatVersion)
	}
	now := l.clock.Now()
	st := &stream{
		pendingCh: make(chan struct{}),
		l:         l, name: m.Name, arn: l.streamARN(m.Name), dir: dir, created: time.UnixMilli(m.Created),
		status: m.Status, mode: m.Mode, retention: m.Retention, nextIndex: m.NextIndex,
		tags: m.Tags, encryption: m.Encryption, keyID: m.KeyID, monitoring: m.Monitoring,
	}
	if m.StatusUntil != 0 {
		st.statusUntil = time.UnixMilli(m.StatusUntil)
	}
	st.pending = m.Pending
	if st.tags == nil {
		st.tags = map[string]string{}
	}
	for _, cm := range m.Consumers {
		c := &consumer{name: cm.Name, created: time.UnixMilli(cm.Created), status: cm.Status}
		if cm.Until != 0 {
			c.until = time.UnixMilli(cm.Until)
		}
		c.arn = consumerARN(st.arn, c.name, c.created)
		st.consumers = append(st.consumers, c)
	}
	for _, sm := range m.Shards {
		start, ok1 := ParseHashKey(sm.Start)
		end, ok2 := ParseHashKey(sm.End)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("shardlog: %s: bad hash range in shard %d", dir, sm.Index)
		}
		sh := &shard{
			idx: sm.Index, id: ShardID(sm.Index), parent: sm.Parent, adjParent: sm.AdjParent, parents: sm.Parents,
			rng: HashKeyRange{Start: start, End: end}, created: time.UnixMilli(sm.Created),
			closed: sm.Closed, end: sm.EndOffset, children: sm.Children, closedCh: make(chan struct{}),
			lim: newLimiter(l.opts.Limits, now),
		}
		sh.readLag.Store(-1)
		if sh.closed {
			sh.closedAt = time.UnixMilli(sm.ClosedAt)
			close(sh.closedCh)
		}
		sh.log, err = storage.Open(filepath.Join(dir, "shards", sh.id), l.storageOptions(m.Name, sh))
		if err != nil {
			for _, o := range st.shards {
				o.log.Close()
			}
			return nil, fmt.Errorf("shardlog: stream %s shard %s: %w", m.Name, sh.id, err)
		}
		st.shards = append(st.shards, sh)
	}
	st.rebuildOpenLocked()
	return st, nil
}

func (st *stream) rebuildOpenLocked() {
	st.open = st.open[:0:0]
	for _, sh := range st.shards {
		if !sh.closed {
			st.open = append(st.open, sh)
		}
	}
	sort.Slice(st.open, func(i, j int) bool { return st.open[i].rng.Start.Cmp(st.open[j].rng.Start) < 0 })
}

func (l *Log) streamARN(name string) string {
	return "arn:aws:kinesis:" + l.opts.Region + ":" + l.opts.AccountID + ":stream/" + name
}

func consumerARN(streamARN, name string, created time.Time) string {
	return fmt.Sprintf("%s/consumer/%s:%d", streamARN, name, created.Unix())
}

// --- stream lookup ---

func (l *Log) notFound(name string) error {
	e := refuse(CodeResourceNotFound, ReasonStreamNotFound)
	e.Stream = name
	return e
}

// StreamRef names a stream by name or ARN (Kinesis accepts either).
type StreamRef struct {
	Name string
	ARN  string
}

// resolve turns a name or ARN into a stream name.
func (l *Log) resolve(ref StreamRef) (string, error) {
	if ref.ARN == "" {
		if ref.Name == "" {
			return "", refuse(CodeInvalidArgument, ReasonNoStreamRef)
		}
		return ref.Name, nil
	}
	prefix := "arn:aws:kinesis:" + l.opts.Region + ":" + l.opts.AccountID + ":stream/"
	if len(ref.ARN) <= len(prefix) || ref.ARN[:len(prefix)] != prefix {
		// Another region's or account's stream does not exist here.
		e := refuse(CodeResourceNotFound, ReasonStreamARNNotFound)
		e.ARN = ref.ARN
		return "", e
	}
	name := ref.ARN[len(prefix):]
	if ref.Name != "" && ref.Name != name {
		e := refuse(CodeInvalidArgument, ReasonStreamRefMismatch)
		e.ARN, e.Stream = ref.ARN, ref.Name
		return "", e
	}
	return name, nil
}

// stream returns the stream, or ResourceNotFoundException. Streams whose
// deletion completed are dropped here.
func (l *Log) stream(name string) (*stream, error) {
	l.mu.RLock()
	if l.mu.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	st := l.mu.streams[name]
	l.mu.RUnlock()
	if st == nil {
		return nil, l.notFound(name)
	}
	now := l.clock.Now()
	st.mu.RLock()
	gone := st.deleted && !now.Before(st.statusUntil)
	st.mu.RUnlock()
	if !gone {
		// Every call finds its stream here: a reshard whose time has come
		// is applied before anything of the stream is seen.
		if _, err := st.settle(now); err != nil {
			return nil, err
		}
	}
	if gone {
		l.mu.Lock()
		if l.mu.streams[name] == st {
			delete(l.mu.streams, name)
		}
		l.mu.Unlock()
		return nil, l.notFound(name)
	}
	return st, nil
}

func (l *Log) streamRef(ref StreamRef) (*stream, error) {
	name, err := l.resolve(ref)
	if err != nil {
		return nil, err
	}
	return l.stream(name)
}

// statusLocked is the stream's status at now: a pending transition whose
// time has come is complete.
func (st *stream) statusLocked(now time.Time) StreamStatus {
	if st.status != StatusActive && !now.Before(st.statusUntil) && !st.deleted {
		return StatusActive
	}
	return st.status
}

// readableLocked refuses data operations on a stream that is not ACTIVE or
// UPDATING, as Kinesis does.
func (st *stream) readableLocked(now time.Time) error {
	switch st.statusLocked(now) {
	case StatusActive, StatusUpdating:
		return nil
	}
	return st.l.notFound(st.name)
}

func (st *stream) activeLocked(now time.Time) error {
	if s := st.statusLocked(now); s != StatusActive {
		e := refuse(CodeResourceInUse, ReasonStreamNotActive)
		e.Stream, e.Value = st.name, string(s)
		return e
	}
	return nil
}

func (st *stream) shardLocked(id string) (*shard, error) {
	idx, err := shardIndex(st.name, id)
	if err != nil {
		return nil, err
	}
	i := sort.Search(len(st.shards), func(i int) bool { return st.shards[i].idx >= idx })
	if i < len(st.shards) && st.shards[i].idx == idx {
		return st.shards[i], nil
	}
	e := refuse(CodeResourceNotFound, ReasonShardNotFound)
	e.Stream, e.Shard = st.name, ShardID(idx)
	return nil, e
}

// maxShardIndex is the largest shard number Kinesis accepts in a shard id
// (a Java int).
const maxShardIndex = 1<<31 - 1

// shardIndex is the number of a shard id as Kinesis reads one: the digits
// after its last '-' (shardId-000000000007, shard-7, anything-7), or a bare
// number (7). An id with no such number, or one beyond the int range, is
// refused (ReasonShardIDUnreadable) naming stream.
func shardIndex(stream, id string) (uint32, error) {
	n := id
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		n = id[i+1:]
	}
	v, err := strconv.ParseUint(n, 10, 64)
	if n == "" || n[0] == '+' || err != nil || v > maxShardIndex {
		e := refuse(CodeResourceNotFound, ReasonShardIDUnreadable)
		e.Stream, e.Value = stream, id
		return 0, e
	}
	return uint32(v), nil
}

// beginUpdateLocked moves the stream to UPDATING until StatusDelay has
// passed.
func (st *stream) beginUpdateLocked(now time.Time) {
	if st.l.opts.StatusDelay > 0 {
		st.status = StatusUpdating
		st.statusUntil = now.Add(st.l.opts.StatusDelay)
	} else {
		st.status = StatusActive
	}
}

// --- streams ---

// CreateStreamInput configures a new stream.
type CreateStreamInput struct {
	Name string
	// ShardCount is required in PROVISIONED mode and must be unset (0) in
	// ON_DEMAND mode.
	ShardCount int
	Mode       StreamMode // default PROVISIONED
	Tags       map[string]string
}

// CreateStream creates a stream of ShardCount shards splitting the hash key
// space evenly (or, ON_DEMAND, of Options.OnDemand.InitialShards shards).
func (l *Log) CreateStream(in CreateStreamInput) error {
	if !validName(in.Name, MaxStreamNameLen) {
		e := refuse(CodeValidation, ReasonStreamNameInvalid)
		e.Value = in.Name
		return e
	}
	if in.Mode == "" {
		in.Mode = ModeProvisioned
	}
	n := in.ShardCount
	switch in.Mode {
	case ModeProvisioned:
		if n < 1 {
			e := refuse(CodeValidation, ReasonShardCountInvalid)
			e.Requested = int64(n)
			return e
		}
	case ModeOnDemand:
		if n != 0 {
			return refuse(CodeInvalidArgument, ReasonShardCountOnDemand)
		}
		n = l.opts.OnDemand.InitialShards
	default:
		return invalidMode(in.Mode)
	}
	if len(in.Tags) > MaxTagsPerStream {
		e := refuse(CodeInvalidArgument, ReasonTooManyTagsOnCreate)
		e.Stream, e.Limit = in.Name, MaxTagsPerStream
		return e
	}
	for k, v := range in.Tags {
		if err := validateTag(k, v); err != nil {
			return err
		}
	}
	if err := tagCharacters(in.Name, in.Tags); err != nil {
		return err
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return ErrClosed
	}
	if old := l.mu.streams[in.Name]; old != nil {
		old.mu.RLock()
		gone := old.deleted && !now.Before(old.statusUntil)
		old.mu.RUnlock()
		if !gone {
			e := refuse(CodeResourceInUse, ReasonStreamExists)
			e.Stream = in.Name
			return e
		}
		delete(l.mu.streams, in.Name)
	}
	open, ondemand := int(l.openShards.Load()), 0
	for _, st := range l.mu.streams {
		st.mu.RLock()
		if st.mode == ModeOnDemand && !st.deleted {
			ondemand++
		}
		st.mu.RUnlock()
	}
	if in.Mode == ModeOnDemand && ondemand >= l.opts.OnDemandStreamLimit {
		e := refuse(CodeLimitExceeded, ReasonOnDemandStreamLimit)
		e.Limit = int64(l.opts.OnDemandStreamLimit)
		return e
	}
	if err := l.checkShardQuota(open, n); err != nil {
		return err
	}
	dir := filepath.Join(l.opts.Dir, "streams", fmt.Sprintf("%s.%d", in.Name, now.UnixNano()))
	st := &stream{
		pendingCh: make(chan struct{}),
		l:         l, name: in.Name, arn: l.streamARN(in.Name), dir: dir, created: now,
		status: StatusActive, mode: in.Mode, retention: DefaultRetentionHours,
		tags: map[string]string{}, encryption: "NONE",
	}
	if l.opts.StatusDelay > 0 {
		st.status, st.statusUntil = StatusCreating, now.Add(l.opts.StatusDelay)
	}
	for k, v := range in.Tags {
		st.tags[k] = v
	}
	for _, r := range UniformRanges(n) {
		if _, err := st.addShardLocked(r, now, nil); err != nil {
			st.removeFiles()
			return err
		}
	}
	st.rebuildOpenLocked()
	if err := st.saveLocked(); err != nil {
		st.removeFiles()
		return err
	}
	// The stream's directory entry in streams/ (and shards/ in it) must
	// survive a crash too.
	if err := durable.SyncDir(filepath.Join(st.dir, "shards"), l.opts.Dir, filepath.Join(l.opts.Dir, "streams")); err != nil {
		st.removeFiles()
		return err
	}
	l.mu.streams[in.Name] = st
	return nil
}

func (st *stream) removeFiles() {
	for _, sh := range st.shards {
		if !sh.closed {
			st.l.openShards.Add(-1)
		}
		sh.log.Close()
	}
	os.RemoveAll(st.dir)
}

// addShardLocked creates a new open shard over r whose parents are given
// (the first is ParentShardId, the second AdjacentParentShardId).
func (st *stream) addShardLocked(r HashKeyRange, now time.Time, parents []*shard) (*shard, error) {
	idx := st.nextIndex
	sh := &shard{
		idx: idx, id: ShardID(idx), rng: r, created: now,
		closedCh: make(chan struct{}), lim: newLimiter(st.l.opts.Limits, now),
	}
	sh.readLag.Store(-1)
	for i, p := range parents {
		switch i {
		case 0:
			sh.parent = p.id
		case 1:
			sh.adjParent = p.id
		}
		sh.parents = append(sh.parents, p.id)
		p.children = append(p.children, sh.id)
	}
	var err error
	sh.log, err = storage.Open(filepath.Join(st.dir, "shards", sh.id), st.l.storageOptions(st.name, sh))
	if err != nil {
		return nil, fmt.Errorf("shardlog: %w", err)
	}
	st.nextIndex++
	st.shards = append(st.shards, sh)
	st.l.openShards.Add(1)
	return sh, nil
}

// DeleteStream deletes a stream and its data. With registered consumers it
// fails unless enforceConsumerDeletion is set.
func (l *Log) DeleteStream(ref StreamRef, enforceConsumerDeletion bool) error {
	st, err := l.streamRef(ref)
	if err != nil {
		return err
	}
	now := l.clock.Now()
	st.mu.Lock()
	if st.deleted {
		// Still DELETING (l.stream drops it once deleted): Kinesis
		// accepts the call again, and nothing changes.
		st.mu.Unlock()
		return nil
	}
	if len(st.consumers) > 0 && !enforceConsumerDeletion {
		st.mu.Unlock()
		e := refuse(CodeResourceInUse, ReasonStreamHasConsumers)
		e.Stream = st.name
		return e
	}
	st.deleted = true
	st.status = StatusDeleting
	st.statusUntil = now.Add(l.opts.StatusDelay)
	for _, sh := range st.shards {
		if !sh.closed {
			close(sh.closedCh)
			sh.closed = true
			l.openShards.Add(-1)
		}
		sh.log.Close()
	}
	trash := filepath.Join(l.opts.Dir, "trash")
	os.MkdirAll(trash, 0o755)
	dst := filepath.Join(trash, filepath.Base(st.dir))
	err = os.Rename(st.dir, dst)
	st.mu.Unlock()
	if err != nil {
		return fmt.Errorf("shardlog: %w", err)
	}
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("shardlog: %w", err)
	}
	if l.opts.StatusDelay == 0 {
		l.mu.Lock()
		if l.mu.streams[st.name] == st {
			delete(l.mu.streams, st.name)
		}
		l.mu.Unlock()
	}
	return nil
}

// ShardInfo describes one shard.
type ShardInfo struct {
	ShardID               string
	ParentShardID         string
	AdjacentParentShardID string
	// Parents lists the shards whose hash range this one took over:
	// ParentShardID and AdjacentParentShardID (a log written before
	// UpdateShardCount split and merged may list more).
	Parents      []string
	HashKeyRange HashKeyRange
	// StartingSequenceNumber is below every record of the shard;
	// EndingSequenceNumber is set once the shard is closed.
	StartingSequenceNumber SequenceNumber
	EndingSequenceNumber   *SequenceNumber
	Closed                 bool
	// Children are the shards that took over this one's range.
	Children []string
	Created  time.Time
	ClosedAt time.Time
}

func (sh *shard) infoLocked() ShardInfo {
	in := ShardInfo{
		ShardID: sh.id, ParentShardID: sh.parent, AdjacentParentShardID: sh.adjParent,
		Parents: slices.Clone(sh.parents), HashKeyRange: sh.rng,
		StartingSequenceNumber: seqAt(sh, 0), Closed: sh.closed,
		Children: slices.Clone(sh.children), Created: sh.created,
	}
	if sh.closed {
		// The position of the last record; its time the closing, which is
		// never before the last record's arrival.
		end := seqAt(sh, sh.end)
		end.Time = unixSec(sh.closedAt.UnixMilli())
		in.EndingSequenceNumber = &end
		in.ClosedAt = sh.closedAt
	}
	return in
}

// StreamDescription describes a stream.
type StreamDescription struct {
	Name           string
	ARN            string
	Status         StreamStatus
	Mode           StreamMode
	RetentionHours int
	Created        time.Time
	// Shards are every shard still within retention, open and closed, in
	// shard id order.
	Shards         []ShardInfo
	OpenShardCount int
	ConsumerCount  int
	EncryptionType string
	KeyID          string
	Monitoring     []string
}

// DescribeStream describes a stream and all its retained shards.
func (l *Log) DescribeStream(ref StreamRef) (StreamDescription, error) {
	st, err := l.streamRef(ref)
	if err != nil {
		return StreamDescription{}, err
	}
	now := l.clock.Now()
	st.mu.RLock()
	defer st.mu.RUnlock()
	d := StreamDescription{
		Name: st.name, ARN: st.arn, Status: st.statusLocked(now), Mode: st.mode,
		RetentionHours: st.retention, Created: st.created, OpenShardCount: len(st.open),
		EncryptionType: st.encryption, KeyID: st.keyID, Monitoring: slices.Clone(st.monitoring),
	}
	if d.Status != StatusDeleting {
		for _, sh := range st.shards {
			d.Shards = append(d.Shards, sh.infoLocked())
		}
	}
	for _, c := range st.consumers {
		if c.statusAt(now) != "" {
			d.ConsumerCount++
		}
	}
	return d, nil
}

// StreamSummary is one entry of ListStreams.
type StreamSummary struct {
	Name    string
	ARN     string
	Status  StreamStatus
	Mode    StreamMode
	Created time.Time
}

// ListStreams lists every stream in name order.
func (l *Log) ListStreams() []StreamSummary {
	now := l.clock.Now()
	l.mu.RLock()
	streams := make([]*stream, 0, len(l.mu.streams))
	for _, st := range l.mu.streams {
		streams = append(streams, st)
	}
	l.mu.RUnlock()
	var out []StreamSummary
	for _, st := range streams {
		st.mu.RLock()
		if !(st.deleted && !now.Before(st.statusUntil)) {
			out = append(out, StreamSummary{Name: st.name, ARN: st.arn, Status: st.statusLocked(now), Mode: st.mode, Created: st.created})
		}
		st.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AccountLimits is the account's shard quota and usage (DescribeLimits).
type AccountLimits struct {
	ShardLimit               int
	OpenShardCount           int
	OnDemandStreamCount      int
	OnDemandStreamCountLimit int
}

// DescribeLimits reports the shard quota and how much of it is used.
func (l *Log) DescribeLimits() AccountLimits {
	out := AccountLimits{ShardLimit: l.opts.ShardLimit, OnDemandStreamCountLimit: l.opts.OnDemandStreamLimit, OpenShardCount: int(l.openShards.Load())}
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, st := range l.mu.streams {
		st.mu.RLock()
		if !st.deleted {
			if st.mode == ModeOnDemand {
				out.OnDemandStreamCount++
			}
		}
		st.mu.RUnlock()
	}
	return out
}

// IncreaseRetention raises a stream's retention period.
func (l *Log) IncreaseRetention(ref StreamRef, hours int) error {
	return l.changeRetention(ref, hours, true)
}

// DecreaseRetention lowers a stream's retention period.
func (l *Log) DecreaseRetention(ref StreamRef, hours int) error {
	return l.changeRetention(ref, hours, false)
}

func (l *Log) changeRetention(ref StreamRef, hours int, increase bool) error {
	st, err := l.streamRef(ref)
	if err != nil {
		return err
	}
	if hours < MinRetentionHours {
		e := refuse(CodeInvalidArgument, ReasonRetentionTooShort)
		e.Requested, e.Limit = int64(hours), MinRetentionHours
		return e
	}
	if hours > MaxRetentionHours {
		e := refuse(CodeInvalidArgument, ReasonRetentionTooLong)
		e.Requested, e.Limit = int64(hours), MaxRetentionHours
		return e
	}
	now := l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.activeLocked(now); err != nil {
		return err
	}
	if increase && hours < st.retention || !increase && hours > st.retention {
		e := refuse(CodeInvalidArgument, ReasonRetentionNotIncrease)
		if !increase {
			e.Reason = ReasonRetentionNotDecrease
		}
		e.Stream, e.Requested, e.Current = st.name, int64(hours), int64(st.retention)
		return e
	}
	st.retention = hours
	return st.saveLocked()
}

// --- tags ---

func validateTag(k, v string) error {
	reason := ReasonUnknown
	switch {
	case len(k) < 1 || len(k) > 128:
		reason = ReasonTagKeyLength
	case len(v) > 256:
		reason = ReasonTagValueLength
	case len(k) >= 4 && k[:4] == "aws:":
		reason = ReasonTagKeyReserved
	default:
		return nil
	}
	e := refuse(CodeInvalidArgument, reason)
	e.Value = k
	return e
}

// tagCharacters refuses tags with characters Kinesis does not allow in
// keys and values: letters, digits, spaces and _ . / = + - @ : pass; '%',
// though the service lists it as valid, is refused on its own (as Kinesis
// does, with a second message). Keys are checked in sorted order so that
// the refusal names the same tag every time.
func tagCharacters(stream string, tags map[string]string) error {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	percent := ""
	for _, k := range keys {
		for _, s := range [2]string{k, tags[k]} {
			for _, c := range s {
				switch {
				case c == '%':
					if percent == "" {
						percent = s
					}
				case unicode.IsLetter(c), unicode.IsDigit(c), unicode.Is(unicode.Zs, c), strings.ContainsRune("_./=+-@:", c):
				default:
					e := refuse(CodeInvalidArgument, ReasonTagCharacters)
					e.Value = s
					return e
				}
			}
		}
	}
	if percent != "" {
		e := refuse(CodeInvalidArgument, ReasonTagPercent)
		e.Stream, e.Value = stream, percent
		return e
	}
	return nil
}

// AddTags adds or overwrites tags of a stream (at most 50 in all).
func (l *Log) AddTags(ref StreamRef, tags map[string]string) error {
	st, err := l.streamRef(ref)
	if err != nil {
		return err
	}
	for k, v := range tags {
		if err := validateTag(k, v); err != nil {
			return err
		}
	}
	if err := tagCharacters(st.name, tags); err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	n := len(st.tags)
	for k := range tags {
		if _, ok := st.tags[k]; !ok {
			n++
		}
	}
	if n > MaxTagsPerStream {
		e := refuse(CodeLimitExceeded, ReasonTooManyTags)
		e.Stream, e.Limit = st.name, MaxTagsPerStream
		return e
	}
	for k, v := range tags {
		st.tags[k] = v
	}
	return st.saveLocked()
}

// RemoveTags removes tags from a stream; absent keys are ignored.
func (l *Log) RemoveTags(ref StreamRef, keys []string) error {
	st, err := l.streamRef(ref)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, k := range keys {
		delete(st.tags, k)
	}
	return st.saveLocked()
}

// Tag is a key and value.
type Tag struct{ Key, Value string }

// ListTags returns a stream's tags sorted by key.
func (l *Log) ListTags(ref StreamRef) ([]Tag, error) {
	st, err := l.streamRef(ref)
	if err != nil {
		return nil, err
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make([]Tag, 0, len(st.tags))
	for k, v := range st.tags {
		out = append(out, Tag{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// UpdateStreamMode switches a stream between PROVISIONED and ON_DEMAND.
func (l *Log) UpdateStreamMode(ref StreamRef, mode StreamMode) error {
	st, err := l.streamRef(ref)
	if err != nil {
		return err
	}
	if mode != ModeProvisioned && mode != ModeOnDemand {
		return invalidMode(mode)
	}
	now := l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.activeLocked(now); err != nil {
		return err
	}
	if st.mode == mode {
		e := refuse(CodeInvalidArgument, ReasonStreamModeUnchanged)
		e.Stream, e.Value = st.name, string(mode)
		return e
	}
	st.mode = mode
	st.beginUpdateLocked(now)
	return st.saveLocked()
}

// SetEncryption records StartStreamEncryption/StopStreamEncryption. The
// log stores data unencrypted either way; the setting is kept so that
// clients that manage it see what they set.
func (l *Log) SetEncryption(ref StreamRef, encType, keyID string) error {
	st, err := l.streamRef(ref)
	if err != nil {
		return err
	}
	now := l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.activeLocked(now); err != nil {
		return err
	}
	st.encryption, st.keyID = encType, keyID
	if encType == "NONE" {
		st.keyID = ""
	}
	st.beginUpdateLocked(now)
	return st.saveLocked()
}

// SetMonitoring enables (enable=true) or disables shard-level metrics and
// returns the metrics before and after. Metrics are recorded, not emitted.
func (l *Log) SetMonitoring(ref StreamRef, metrics []string, enable bool) (before, after []string, err error) {
	st, err := l.streamRef(ref)
	if err != nil {
		return nil, nil, err
	}
	now := l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.activeLocked(now); err != nil {
		return nil, nil, err
	}
	before = slices.Clone(st.monitoring)
	set := map[string]bool{}
	for _, m := range st.monitoring {
		set[m] = true
	}
	for _, m := range metrics {
		if m == AllShardLevelMetrics {
			for _, a := range shardLevelMetrics {
				set[a] = enable
			}
			continue
		}
		set[m] = enable
	}
	st.monitoring = nil
	for _, a := range shardLevelMetrics {
		if set[a] {
			st.monitoring = append(st.monitoring, a)
		}
	}
	return before, slices.Clone(st.monitoring), st.saveLocked()
}

// The shard-level metrics of EnableEnhancedMonitoring, in the order
// Kinesis lists them, and the name that stands for all of them.
var shardLevelMetrics = []string{"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords", "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds"}

// AllShardLevelMetrics names every metric in SetMonitoring.
const AllShardLevelMetrics = "ALL"

// ShardLevelMetrics returns the shard-level metrics SetMonitoring accepts
// (besides AllShardLevelMetrics), in the order Kinesis lists them.
func ShardLevelMetrics() []string { return slices.Clone(shardLevelMetrics) }

func invalidMode(m StreamMode) error {
	e := refuse(CodeValidation, ReasonStreamModeInvalid)
	e.Value = string(m)
	return e
}
