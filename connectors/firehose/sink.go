package firehose

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// Sink is an engine sink that delivers a job's stream through one
// delivery stream (Stream) per subtask, exactly once when the job takes
// checkpoints.
//
// # Exactly once
//
// Each subtask's writer buffers records by the buffering hints as a
// Stream does; an object that is due (size, or the interval checked at
// every Write) is staged — an uncompleted S3 multipart upload, or a hidden
// temporary file beside its final name — never written visibly. At every
// checkpoint barrier the writer stages what it still buffers and hands
// the handles of everything staged since the previous barrier to the
// engine as the checkpoint's committable. Sink is an
// engine.GlobalCommitSink: one global committer per job attempt completes
// (S3) or renames (directory) the objects of every subtask when the
// checkpoint completes, and, when an attempt starts, commits the restored
// checkpoint's objects again (idempotent). Error documents
// (processing-failed, format-conversion-failed, partitioning-failed) and
// backup objects are staged and committed the same way, so they are
// exactly once too.
//
// Objects staged after the last completed checkpoint belong to no
// checkpoint and must be removed after a failure. S3 servers differ in
// how they list multipart uploads (MinIO lists them only for an exact
// key), so the sink does not rely on listing uploads by prefix: before a
// writer stages an object it writes an intent (a small JSON object naming
// the key) under SinkOptions.StagingPrefix in the main destination, and
// the committer deletes it once the object is committed. When an attempt
// starts, after the restored commit and before any writer opens, the
// committer aborts the uploads or temporary files of every intent left in
// the journal, deletes the intents, and removes intents that were staged
// and never made visible (a crash in the middle of writing one). Two
// running jobs must not share a staging prefix. An S3 lifecycle rule that
// aborts incomplete multipart uploads after a few days is still a good
// safety net.
//
// A staging write that keeps failing for RetryDurationInSeconds sends the
// object's records, staged like everything else, to the backup's error
// output (delivery-failed) when a backup destination is configured, and
// the job goes on; without one the writer fails its task, and the job
// restarts from its last completed checkpoint as its restart strategy
// allows. Commits are not cancelled with the job (see Commit).
//
// # Latency and object sizes
//
// Objects become visible when the first checkpoint after they were
// staged completes, and a checkpoint barrier stages everything buffered:
// a record is visible at most one checkpoint interval (plus the time to
// complete and commit the checkpoint) after it reached the sink, and a
// checkpoint cuts every open buffer. The buffering hints then only split
// the output between two checkpoints: an interval shorter than the
// checkpoint interval makes more, smaller objects without making them
// visible sooner, a longer one is capped by the checkpoint interval, and
// SizeInMBs still bounds each object. To get Firehose-sized objects, set
// the job's checkpoint interval to the buffering interval you want (that
// is what `sluice firehose run` does by default); for lower latency,
// checkpoint more often and accept more objects.
//
// # Without checkpoints
//
// When the job takes no checkpoints (SinkInfo.Checkpointing is false), or
// with SinkOptions.AtLeastOnce, the writer delivers as Firehose does, at
// least once: objects are written visibly as soon as their buffer is due
// (a goroutine per writer delivers by interval), every buffer is flushed
// at a checkpoint barrier (so a restore loses nothing) and at the end of
// a bounded input; records after the last checkpoint, or all records
// without checkpoints, are delivered again after a restart. An HTTP
// endpoint destination cannot stage, so it needs AtLeastOnce in a job
// that checkpoints.
//
// Sink is safe for concurrent use by the engine (one writer per subtask);
// Stats may be called from any goroutine.
type Sink[T any] struct {
	cfg  Config
	opts SinkOptions
	conv func(T) Record

	mu struct {
		sync.Mutex
		// By operator uid, for the current attempt (reset when its
		// global committer is made).
		streams map[string][]*Stream
		pending map[string]int // committables prepared, not yet committed
		stats   SinkStats
	}
}

// SinkOptions configure a Sink. The zero value is usable.
type SinkOptions struct {
	// Deps are the dependencies of every subtask's Stream. A Store,
	// BackupStore or Rand given here is shared by all subtasks and must
	// be safe for concurrent use (DirStore and S3Store are). In
	// exactly-once mode the main store must implement JournalStore.
	Deps Deps
	// AtLeastOnce delivers as Firehose does even when the job takes
	// checkpoints (see Sink).
	AtLeastOnce bool
	// StagingPrefix is the key prefix of the staging journal in the main
	// destination. Default ".sluice-staging/<Config.Name>/<operator uid>/".
	// Keep it outside the prefixes that readers of the destination scan,
	// and distinct for every running job.
	StagingPrefix string
	// CloseFlushTimeout bounds the final flush of an at-least-once writer
	// when it is closed (default 30 s).
	CloseFlushTimeout time.Duration
}

// Validate checks o.
func (o *SinkOptions) Validate() error {
	if p := o.StagingPrefix; p != "" && (strings.HasPrefix(p, "/") || strings.Contains(p, "..") || !strings.HasSuffix(p, "/")) {
		return fmt.Errorf("%w: StagingPrefix %q must be relative, without '..', and end with '/'", ErrConfig, p)
	}
	if o.CloseFlushTimeout < 0 {
		return fmt.Errorf("%w: negative CloseFlushTimeout", ErrConfig)
	}
	return nil
}

// SinkStats are a Sink's counters in this process.
type SinkStats struct {
	// Stream sums the stream counters of the current attempt's writers
	// (in exactly-once mode "delivered" means staged).
	Stream Stats
	// Committed counts what commits made visible: records and bytes of
	// data objects, error-document records, and objects of every kind.
	// Commits repeated after a restore are not counted again.
	CommittedRecords, CommittedBytes, CommittedFailed, CommittedObjects int64
	// AbortedObjects counts the staged objects of earlier attempts that
	// were aborted (at most one per intent).
	AbortedObjects int64
}

// NewSink returns a sink that delivers each record as toRecord makes it.
// toRecord may be nil when T is Record, []byte or string. cfg is checked
// now (with defaults applied) so that a bad configuration fails the job
// build, not every restart.
func NewSink[T any](cfg Config, opts SinkOptions, toRecord func(T) Record) (*Sink[T], error) {
	cfg.EnsureDefaults()
	if _, err := cfg.compile(); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.CloseFlushTimeout == 0 {
		opts.CloseFlushTimeout = 30 * time.Second
	}
	if toRecord == nil {
		var zero T
		switch any(zero).(type) {
		case Record:
			toRecord = func(v T) Record { return any(v).(Record) }
		case []byte:
			toRecord = func(v T) Record { return Record{Data: any(v).([]byte)} }
		case string:
			toRecord = func(v T) Record { return Record{Data: []byte(any(v).(string))} }
		default:
			return nil, fmt.Errorf("%w: a Sink of %T needs a toRecord function", ErrConfig, zero)
		}
	}
	k := &Sink[T]{cfg: cfg, opts: opts, conv: toRecord}
	k.mu.streams = map[string][]*Stream{}
	k.mu.pending = map[string]int{}
	return k, nil
}

// Stats returns the sink's counters.
func (k *Sink[T]) Stats() SinkStats {
	k.mu.Lock()
	st := k.mu.stats
	var streams []*Stream
	for _, ss := range k.mu.streams {
		streams = append(streams, ss...)
	}
	k.mu.Unlock()
	for _, s := range streams {
		x := s.Stats()
		st.Stream.RecordsIn += x.RecordsIn
		st.Stream.RecordsDelivered += x.RecordsDelivered
		st.Stream.RecordsFailed += x.RecordsFailed
		st.Stream.RecordsDropped += x.RecordsDropped
		st.Stream.BytesIn += x.BytesIn
		st.Stream.BytesDelivered += x.BytesDelivered
		st.Stream.Objects += x.Objects
		st.Stream.ErrorObjects += x.ErrorObjects
		st.Stream.BackupObjects += x.BackupObjects
	}
	return st
}

// track registers the stream of a writer of the current attempt of the
// sink operator uid (for Stats).
func (k *Sink[T]) track(uid string, s *Stream) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.mu.streams[uid] = append(k.mu.streams[uid], s)
}

// addPending counts committables of the operator uid prepared (n > 0) or
// committed (n < 0).
func (k *Sink[T]) addPending(uid string, n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.mu.pending[uid] += n
}

// stagingPrefix returns the journal prefix of the operator uid.
func (k *Sink[T]) stagingPrefix(uid string) string {
	if k.opts.StagingPrefix != "" {
		return k.opts.StagingPrefix
	}
	return ".sluice-staging/" + safeName(k.cfg.Name) + "/" + safeName(uid) + "/"
}

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		return "_" + string(b)
	}
	return string(b)
}

// Open implements engine.Sink.
func (k *Sink[T]) Open(ctx context.Context, info engine.SinkInfo) (engine.SinkWriter[T], error) {
	deps := k.opts.Deps
	if deps.Clock == nil {
		deps.Clock = info.Clock
	}
	s, err := New(ctx, k.cfg, deps)
	if err != nil {
		return nil, err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("firehose: writer id: %w", err)
	}
	w := &sinkWriter[T]{k: k, s: s, ctx: ctx, id: hex.EncodeToString(rnd[:]), exactly: info.Checkpointing && !k.opts.AtLeastOnce}
	if w.exactly {
		if s.http != nil {
			return nil, fmt.Errorf("%w: an HTTP endpoint destination cannot stage output for exactly-once delivery; set SinkOptions.AtLeastOnce", ErrConfig)
		}
		j, ok := s.store.(JournalStore)
		if !ok {
			return nil, fmt.Errorf("%w: exactly-once delivery needs a destination store that keeps a staging journal (%T does not implement JournalStore)", ErrConfig, s.store)
		}
		w.journal = j
		w.prefix = k.stagingPrefix(info.UID)
		w.intents = map[string]*pendingIntent{}
		s.stageHook = w.stage
	} else {
		if j, ok := s.store.(JournalStore); ok {
			w.journal = j // for restored committables of an exactly-once run
		}
		runCtx, cancel := context.WithCancel(ctx)
		w.cancel, w.done = cancel, make(chan struct{})
		go func() {
			defer close(w.done)
			if err := s.Run(runCtx); err != nil {
				w.bgMu.Lock()
				w.bgErr = err
				w.bgMu.Unlock()
			}
		}()
	}
	w.uid = info.UID
	k.track(info.UID, s)
	return w, nil
}

// intentVersion is the version of the intent and committable encodings.
const intentVersion = 1

// intent is the journal entry written before an object is staged.
type intent struct {
	V    int    `json:"v"`
	Dest string `json:"dest,omitempty"`
	Key  string `json:"key"`
}

// sinkCommittable is what a writer prepares at a checkpoint barrier (a
// durable, versioned format: checkpoints hold it).
type sinkCommittable struct {
	V          int            `json:"v"`
	Writer     string         `json:"writer"`
	Checkpoint int64          `json:"checkpoint"`
	Objects    []stagedObject `json:"objects,omitempty"`
	// Counters of what the objects hold (for statistics only).
	Records int64 `json:"records,omitempty"`
	Failed  int64 `json:"failed,omitempty"`
	Bytes   int64 `json:"bytes,omitempty"`
}

type stagedObject struct {
	Staged Staged `json:"staged"`
	Intent string `json:"intent,omitempty"`
	// Sweep: the key was staged more than once (a retry after an error
	// that may have staged anyway); the commit aborts the other copies.
	Sweep bool `json:"sweep,omitempty"`
}

func decodeCommittable(b []byte) (sinkCommittable, error) {
	var c sinkCommittable
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("firehose: corrupt committable: %w", err)
	}
	if c.V != intentVersion {
		return c, fmt.Errorf("firehose: committable version %d is not supported (want %d)", c.V, intentVersion)
	}
	return c, nil
}

// sinkWriter is one subtask's writer. In exactly-once mode every method
// runs on the task's goroutine; in at-least-once mode a Run goroutine
// delivers by interval beside it (Stream serialises them).
type sinkWriter[T any] struct {
	k       *Sink[T]
	s       *Stream
	ctx     context.Context
	id      string
	exactly bool
	uid     string
	recs    []Record // scratch

	// Exactly once.
	journal    JournalStore
	prefix     string
	seq        int
	intents    map[string]*pendingIntent // by key: intents of objects not staged yet
	unprepared []stagedObject            // staged since the last Prepare
	last       Stats                     // stream counters at the last Prepare

	// At least once.
	cancel context.CancelFunc
	done   chan struct{}
	bgMu   sync.Mutex
	bgErr  error
}

// pendingIntent is the journal entry of an object being staged; a retry of
// the same key reuses it.
type pendingIntent struct {
	name    string
	written bool // the journal write succeeded
	stages  int  // staging attempts
}

// stage is the stream's stage hook: journal the intent, then stage.
func (w *sinkWriter[T]) stage(ctx context.Context, store ObjectStore, r stageReq) error {
	in, ok := w.intents[r.key]
	if !ok {
		w.seq++
		// Tracked before the write: a write that reports an error may
		// still have happened.
		in = &pendingIntent{name: fmt.Sprintf("%s%s-%010d", w.prefix, w.id, w.seq)}
		w.intents[r.key] = in
	}
	if !in.written {
		b, err := json.Marshal(intent{V: intentVersion, Dest: r.dest, Key: r.key})
		if err != nil {
			return err
		}
		if err := w.journal.Put(ctx, in.name, b); err != nil {
			return fmt.Errorf("firehose: staging journal: %w", err)
		}
		in.written = true
	}
	in.stages++
	st, err := store.Stage(ctx, r.key, r.body)
	if err != nil {
		return err
	}
	st.Dest = r.dest
	delete(w.intents, r.key)
	// A failed earlier attempt may have staged a copy nobody holds a
	// handle to: the commit sweeps the key.
	w.unprepared = append(w.unprepared, stagedObject{Staged: st, Intent: in.name, Sweep: in.stages > 1})
	return nil
}

func (w *sinkWriter[T]) bgError() error {
	if w.exactly {
		return nil
	}
	w.bgMu.Lock()
	defer w.bgMu.Unlock()
	return w.bgErr
}

// Write implements engine.SinkWriter: it buffers the records, staging (or,
// at least once, delivering) the buffers that become due.
func (w *sinkWriter[T]) Write(batch []engine.Record[T]) error {
	if err := w.bgError(); err != nil {
		return err
	}
	recs := w.recs[:0]
	for i := range batch {
		recs = append(recs, w.k.conv(batch[i].Value))
	}
	err := w.s.Put(w.ctx, recs...)
	clear(recs) // Put copied them; drop the references to the data
	w.recs = recs[:0]
	return err
}

// EndInput implements engine.EndInputHook: at least once, deliver
// everything; exactly once, the final checkpoint's Prepare stages it.
func (w *sinkWriter[T]) EndInput() error {
	if w.exactly {
		return nil
	}
	return w.s.Flush(w.ctx)
}

// Prepare implements engine.StagingWriter.
func (w *sinkWriter[T]) Prepare(checkpointID int64) ([]byte, error) {
	if err := w.s.Flush(w.ctx); err != nil {
		return nil, err
	}
	if !w.exactly {
		return nil, nil // delivered before the checkpoint completes: at least once
	}
	// Keys whose staging failed for good (their records went to the
	// backup's error output, or the writer fails): abort whatever part of
	// them exists, so that the journal does not wait for the next attempt.
	for key, in := range w.intents {
		if _, err := abortIntent(w.ctx, w.s, w.journal, in.name); err != nil {
			return nil, err
		}
		delete(w.intents, key)
	}
	objs := w.unprepared
	w.unprepared = nil
	st := w.s.Stats()
	c := sinkCommittable{V: intentVersion, Writer: w.id, Checkpoint: checkpointID, Objects: objs,
		Records: st.RecordsDelivered - w.last.RecordsDelivered, Failed: st.RecordsFailed - w.last.RecordsFailed,
		Bytes: st.BytesDelivered - w.last.BytesDelivered}
	w.last = st
	if len(objs) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(c)
	if err == nil {
		w.k.addPending(w.uid, 1)
	}
	return b, err
}

// Pending returns how many committables the current writers prepared at
// checkpoint barriers and have not committed yet: zero once every
// completed checkpoint's objects are visible.
func (k *Sink[T]) Pending() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, p := range k.mu.pending {
		n += p
	}
	return n
}

// commitTimeout bounds one Commit call (it is not cancelled with the job).
const commitTimeout = 5 * time.Minute

// NewGlobalCommitter implements engine.GlobalCommitSink.
func (k *Sink[T]) NewGlobalCommitter(ctx context.Context, info engine.CommitterInfo) (engine.GlobalCommitter, error) {
	deps := k.opts.Deps
	if deps.Clock == nil {
		deps.Clock = info.Clock
	}
	// The committer's stream is never written to: it resolves the
	// destinations of staged handles and retries like the writers do.
	s, err := New(ctx, k.cfg, deps)
	if err != nil {
		return nil, err
	}
	c := &committer[T]{k: k, s: s, ctx: ctx, uid: info.UID, prefix: k.stagingPrefix(info.UID),
		exactly: info.Checkpointing && !k.opts.AtLeastOnce}
	c.journal, _ = s.store.(JournalStore)
	k.mu.Lock()
	k.mu.streams[info.UID] = nil
	k.mu.pending[info.UID] = 0
	k.mu.Unlock()
	return c, nil
}

// committer is a Sink's global committer of one attempt; the engine calls
// it from one goroutine at a time.
type committer[T any] struct {
	k       *Sink[T]
	s       *Stream
	ctx     context.Context
	uid     string
	prefix  string
	exactly bool
	journal JournalStore // nil if the main store keeps none
	// started: Cleanup ran, so the committables Commit gets are this
	// attempt's (those of the restored checkpoint came before).
	started bool
}

// Commit implements engine.GlobalCommitter: complete or rename every
// staged object, then delete its intent. Both steps are idempotent.
func (c *committer[T]) Commit(_ context.Context, _ int64, cs []engine.Committable) error {
	// A commit is not interrupted when the job is cancelled: a server may
	// not complete an upload atomically when its client goes away (MinIO
	// can leave the upload without its parts and without the object).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), commitTimeout)
	defer cancel()
	for _, e := range cs {
		sc, err := decodeCommittable(e.Data)
		if err != nil {
			return err
		}
		for _, o := range sc.Objects {
			store := c.s.storeFor(o.Staged)
			if store == nil {
				return fmt.Errorf("firehose: commit %s: the stream has no %q destination", o.Staged.Key, o.Staged.Dest)
			}
			if _, err := c.s.withRetry(ctx, func() error { return store.Commit(ctx, o.Staged) }); err != nil {
				return err
			}
			if o.Sweep {
				if _, err := c.s.withRetry(ctx, func() error { return abortKey(ctx, store, o.Staged.Key) }); err != nil {
					return err
				}
			}
			if o.Intent != "" {
				if c.journal == nil {
					return fmt.Errorf("%w: restored staged objects but the destination keeps no staging journal", ErrConfig)
				}
				if _, err := c.s.withRetry(ctx, func() error { return c.journal.Delete(ctx, o.Intent) }); err != nil {
					return err
				}
			}
		}
		if c.started {
			k := c.k
			k.mu.Lock()
			k.mu.stats.CommittedRecords += sc.Records
			k.mu.stats.CommittedFailed += sc.Failed
			k.mu.stats.CommittedBytes += sc.Bytes
			k.mu.stats.CommittedObjects += int64(len(sc.Objects))
			k.mu.pending[c.uid]--
			k.mu.Unlock()
		}
	}
	return nil
}

// Cleanup implements engine.GlobalCommitter: it aborts what earlier
// attempts staged and no checkpoint committed. No writer of the attempt
// has opened yet, so every intent in the journal, and every half-written
// intent (a crash between writing an intent's temporary file and renaming
// it leaves one), is garbage.
func (c *committer[T]) Cleanup(context.Context) error {
	c.started = true
	if !c.exactly || c.journal == nil {
		// At least once nothing is staged; intents an exactly-once run of
		// the job left stay for the next exactly-once attempt.
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), commitTimeout)
	defer cancel()
	names, err := c.journal.List(ctx, c.prefix)
	if err != nil {
		return fmt.Errorf("firehose: staging journal: %w", err)
	}
	var aborted int64
	for _, name := range names {
		id, _, ok := strings.Cut(name[len(c.prefix):], "-")
		if !ok || strings.Contains(id, "/") {
			continue // not an intent
		}
		n, err := abortIntent(ctx, c.s, c.journal, name)
		if err != nil {
			return err
		}
		aborted += n
	}
	// Intents staged and never made visible (the journal's store stages
	// them, DirStore as hidden temporary files).
	half, err := c.journal.ListStaged(ctx, c.prefix)
	if err != nil {
		return fmt.Errorf("firehose: staging journal: %w", err)
	}
	for _, st := range half {
		if err := c.journal.Abort(ctx, st); err != nil {
			return fmt.Errorf("firehose: staging journal: %w", err)
		}
	}
	c.k.mu.Lock()
	c.k.mu.stats.AbortedObjects += aborted
	c.k.mu.Unlock()
	return nil
}

// Close implements engine.GlobalCommitter.
func (c *committer[T]) Close() error { return nil }

// abortIntent aborts every staged object of the intent's key and deletes
// the intent.
func abortIntent(ctx context.Context, s *Stream, journal JournalStore, name string) (int64, error) {
	body, err := journal.Get(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("firehose: staging journal: %w", err)
	}
	var in intent
	if err := json.Unmarshal(body, &in); err != nil || in.V != intentVersion || in.Key == "" {
		return 0, fmt.Errorf("firehose: staging journal entry %s is not a version %d intent: %q", name, intentVersion, body)
	}
	store := s.storeFor(Staged{Dest: in.Dest})
	if store == nil {
		return 0, fmt.Errorf("firehose: staging journal entry %s names a %q destination the stream lacks", name, in.Dest)
	}
	n, err := abortKeyCount(ctx, store, in.Key)
	if err != nil {
		return n, err
	}
	return n, journal.Delete(ctx, name)
}

// abortKey aborts every staged copy of key (an S3 store finds uploads by
// exact key, which MinIO supports).
func abortKey(ctx context.Context, store ObjectStore, key string) error {
	_, err := abortKeyCount(ctx, store, key)
	return err
}

func abortKeyCount(ctx context.Context, store ObjectStore, key string) (int64, error) {
	staged, err := store.ListStaged(ctx, key)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, st := range staged {
		if st.Key != key {
			continue
		}
		if err := store.Abort(ctx, st); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Close implements engine.SinkWriter. Exactly once, what was staged and
// not committed stays for the next attempt's cleanup (the checkpoint
// holding it may have completed); at least once, the Run goroutine is
// stopped and the buffers are flushed (bounded by CloseFlushTimeout).
func (w *sinkWriter[T]) Close() error {
	if w.exactly {
		return nil
	}
	w.cancel()
	<-w.done
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), w.k.opts.CloseFlushTimeout)
	defer cancel()
	return errors.Join(w.bgError(), w.s.Flush(ctx))
}

var _ engine.GlobalCommitSink[Record] = (*Sink[Record])(nil)
