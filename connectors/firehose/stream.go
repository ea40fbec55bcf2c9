package firehose

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/connectors/firehose/prefix"
	"github.com/sluicehq/sluice/connectors/parquet"
	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
)

// Deps are a stream's run-time dependencies that are not configuration.
// Every field is optional.
type Deps struct {
	// Transform is the Go transform used when Config.Processing is set
	// without a LambdaURL.
	Transform TransformFunc
	// Store and BackupStore replace the configured destinations (fakes in
	// tests, or stores shared between streams).
	Store, BackupStore ObjectStore
	// HTTPClient for the HTTP endpoint and Lambda URL (default: a client
	// without a global timeout; requests carry their own).
	HTTPClient *http.Client
	// Clock is the time source of buffer intervals, object timestamps and
	// the waits between delivery retries (default: the wall clock). Tests
	// use a manual clock; with AutoAdvance, a retry's wait moves it on.
	Clock clock.Clock
	// Rand is the source of object UUIDs and random strings (default
	// crypto/rand).
	Rand io.Reader
	// RetryInterval is the wait between delivery attempts (default 5 s,
	// as Firehose retries S3).
	RetryInterval time.Duration
}

// ErrDeliveryFailed is wrapped when records could not be delivered and had
// no backup to go to. The records are kept and retried by the next call;
// Put refuses new records until they are delivered.
var ErrDeliveryFailed = errors.New("firehose: delivery failed")

// Stats are counters since the stream started.
type Stats struct {
	RecordsIn, RecordsDelivered, RecordsFailed, RecordsDropped int64
	BytesIn, BytesDelivered                                    int64
	Objects, ErrorObjects, BackupObjects                       int64
}

// Stream is the delivery stream: the deterministic Core plus the I/O shell
// (transform, partitioning, encoding, delivery, retries, backup and error
// output). Its methods are safe for concurrent use but serialised: a Put
// that makes buffers due delivers them before returning, which is the
// stream's backpressure. Nothing runs in the background unless the caller
// runs Run.
type Stream struct {
	mu sync.Mutex

	cfg  Config
	c    *compiled
	deps Deps
	arn  string

	core, backupCore *Core
	store            ObjectStore // object destination (nil for HTTP)
	errStore         ObjectStore // where error documents go
	errPrefix        *prefix.Expr
	backupStore      ObjectStore
	http             *httpEndpoint

	runID       string
	invocations int
	requests    int

	pending    []*pendingDelivery
	pendingErr []failure
	stats      Stats
	// staging collects handles instead of committing (StageAll).
	staging *[]Staged
	// stageHook, when set, makes every object write stage through it
	// instead (the exactly-once Sink's writer, which journals and
	// collects what is staged).
	stageHook func(ctx context.Context, store ObjectStore, st stageReq) error
}

// stageReq is one object to stage.
type stageReq struct {
	dest, key string
	body      []byte
}

type pendingDelivery struct {
	buf *Buffer
}

// New builds a stream. S3 destinations are opened (no request is sent);
// directory destinations are created.
func New(ctx context.Context, cfg Config, deps Deps) (*Stream, error) {
	cfg.EnsureDefaults()
	c, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	s := &Stream{cfg: cfg, c: c, deps: deps}
	s.deps.Clock = clock.Or(s.deps.Clock)
	if s.deps.Rand == nil {
		s.deps.Rand = rand.Reader
	}
	if s.deps.HTTPClient == nil {
		s.deps.HTTPClient = &http.Client{}
	}
	if s.deps.RetryInterval == 0 {
		s.deps.RetryInterval = 5 * time.Second
	}
	s.arn = "arn:aws:firehose:" + cfg.Region + ":000000000000:deliverystream/" + cfg.Name
	var id [4]byte
	io.ReadFull(s.deps.Rand, id[:])
	s.runID = hex.EncodeToString(id[:])
	if p := cfg.Processing; p != nil {
		switch {
		case p.LambdaURL != "":
			s.deps.Transform = httpTransform(s.deps.HTTPClient, p.LambdaURL)
		case deps.Transform == nil:
			return nil, cfgErr("Processing is set but there is neither a LambdaURL nor a Deps.Transform")
		}
	}
	maxParts := 0
	if cfg.Partitioning != nil {
		maxParts = cfg.Partitioning.MaxActivePartitions
	}
	interval := time.Duration(*cfg.Buffering.IntervalInSeconds) * time.Second
	size := int64(cfg.Buffering.SizeInMBs) << 20
	s.core = NewCore(size, interval, maxParts)

	s.store = deps.Store
	if s.store == nil {
		if s.store, err = openStore(ctx, cfg.S3, cfg.Directory); err != nil {
			return nil, err
		}
	}
	if b := cfg.Backup; b != nil && b.Mode != BackupDisabled {
		s.backupStore = deps.BackupStore
		if s.backupStore == nil {
			if s.backupStore, err = openStore(ctx, b.S3, b.Directory); err != nil {
				return nil, err
			}
		}
		if b.Mode == BackupAllData {
			s.backupCore = NewCore(size, interval, 0)
		}
	}
	s.errStore, s.errPrefix = s.store, c.prefixes.ErrorPrefix
	if cfg.HTTPEndpoint != nil {
		s.http = &httpEndpoint{cfg: *cfg.HTTPEndpoint, client: s.deps.HTTPClient, arn: s.arn}
		s.store = nil
		s.errStore, s.errPrefix = s.backupStore, c.backupPrefixes.ErrorPrefix
	}
	return s, nil
}

func openStore(ctx context.Context, s3c *s3.Config, dir *DirectoryConfig) (ObjectStore, error) {
	switch {
	case s3c != nil:
		b, err := s3.Open(ctx, *s3c)
		if err != nil {
			return nil, err
		}
		return &S3Store{B: b}, nil
	case dir != nil:
		return NewDirStore(dir.Path)
	}
	return nil, nil
}

func (s *Stream) now() time.Time { return s.deps.Clock.Now() }

// Stats returns the counters.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Put adds records. It delivers the buffers that become due (by size, or
// by interval at the stream clock's now) before returning, and returns an
// error wrapping ErrDeliveryFailed when records could go nowhere; those
// are kept and retried first by the next call.
func (s *Stream) Put(ctx context.Context, recs ...Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.retryPending(ctx); err != nil {
		return err
	}
	now := s.now()
	var failures []failure
	var errs []error
	recs = append([]Record(nil), recs...) // the caller's slice is not modified
	for i := range recs {
		if recs[i].ArrivalTime.IsZero() {
			recs[i].ArrivalTime = now
		}
		s.stats.RecordsIn++
		s.stats.BytesIn += int64(len(recs[i].Data))
		if s.backupCore != nil {
			if full, _ := s.backupCore.Add(now, Keys{}, recs[i]); full != nil {
				errs = append(errs, s.deliverBackup(ctx, full))
			}
		}
	}
	items, tf, err := s.process(ctx, recs)
	if err != nil {
		return err
	}
	failures = append(failures, tf...)
	for _, it := range items {
		keys := Keys{Lambda: it.lambdaKeys}
		if s.c.keys != nil {
			q, err := s.c.keys.eval(it.rec.Data)
			if err != nil {
				failures = append(failures, failure{rec: it.rec, typ: prefix.PartitioningFailed, code: CodeMetadataExtraction, msg: err.Error(), attempts: 1, ended: now})
				continue
			}
			keys.Query = q
		}
		full, overflow := s.core.Add(now, keys, it.rec)
		if overflow {
			failures = append(failures, failure{rec: it.rec, typ: prefix.PartitioningFailed, code: CodeActivePartitionsExceeded,
				msg: fmt.Sprintf("the stream has %d active partitions, its limit", s.core.Active()), attempts: 1, ended: now})
			continue
		}
		if full != nil {
			errs = append(errs, s.deliver(ctx, full))
		}
	}
	errs = append(errs, s.writeFailures(ctx, failures))
	errs = append(errs, s.deliverDue(ctx, now))
	return errors.Join(errs...)
}

// process runs the transform, if any, over recs in invocations of at most
// Processing.BufferSizeInMBs.
func (s *Stream) process(ctx context.Context, recs []Record) ([]transformed, []failure, error) {
	if s.cfg.Processing == nil {
		out := make([]transformed, len(recs))
		for i, r := range recs {
			out[i] = transformed{rec: r}
		}
		return out, nil, nil
	}
	limit := int64(s.cfg.Processing.BufferSizeInMBs * (1 << 20))
	var out []transformed
	var failed []failure
	for start := 0; start < len(recs); {
		end, size := start, int64(0)
		for end < len(recs) && (end == start || size+int64(len(recs[end].Data)) <= limit) {
			size += int64(len(recs[end].Data))
			end++
		}
		o, f, err := s.applyTransform(ctx, recs[start:end])
		if err != nil {
			return nil, nil, err
		}
		for _, t := range o {
			if len(t.rec.Data) == 0 {
				s.stats.RecordsDropped++ // an Ok answer with empty data has nothing to deliver
				continue
			}
			out = append(out, t)
		}
		s.stats.RecordsDropped += int64(end - start - len(o) - len(f))
		failed = append(failed, f...)
		start = end
	}
	return out, failed, nil
}

// Tick delivers the buffers whose buffering interval has elapsed.
func (s *Stream) Tick(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.retryPending(ctx); err != nil {
		return err
	}
	return s.deliverDue(ctx, s.now())
}

func (s *Stream) deliverDue(ctx context.Context, now time.Time) error {
	var errs []error
	for _, b := range s.core.Due(now) {
		errs = append(errs, s.deliver(ctx, b))
	}
	if s.backupCore != nil {
		for _, b := range s.backupCore.Due(now) {
			errs = append(errs, s.deliverBackup(ctx, b))
		}
	}
	return errors.Join(errs...)
}

// Flush delivers every buffer now.
func (s *Stream) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked(ctx)
}

func (s *Stream) flushLocked(ctx context.Context) error {
	if err := s.retryPending(ctx); err != nil {
		return err
	}
	var errs []error
	for _, b := range s.core.Drain() {
		errs = append(errs, s.deliver(ctx, b))
	}
	if s.backupCore != nil {
		for _, b := range s.backupCore.Drain() {
			errs = append(errs, s.deliverBackup(ctx, b))
		}
	}
	return errors.Join(errs...)
}

// StageAll drains every buffer into staged (invisible) objects and returns
// their handles, for a caller that commits them later (an exactly-once
// sink commits them when the checkpoint that covers them completes).
// Error and backup documents are staged too. A record that cannot be
// staged within the retry duration makes StageAll fail with the records
// kept for the next attempt; the handles staged before the failure are
// returned with the error, for the caller to abort or keep.
func (s *Stream) StageAll(ctx context.Context) ([]Staged, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var handles []Staged
	s.staging = &handles
	defer func() { s.staging = nil }()
	err := s.flushLocked(ctx)
	return handles, err
}

// Commit makes staged objects visible (idempotent).
func (s *Stream) Commit(ctx context.Context, staged []Staged) error {
	var errs []error
	for _, st := range staged {
		errs = append(errs, s.storeFor(st).Commit(ctx, st))
	}
	return errors.Join(errs...)
}

// Abort discards staged objects (idempotent).
func (s *Stream) Abort(ctx context.Context, staged []Staged) error {
	var errs []error
	for _, st := range staged {
		errs = append(errs, s.storeFor(st).Abort(ctx, st))
	}
	return errors.Join(errs...)
}

func (s *Stream) storeFor(st Staged) ObjectStore {
	if st.Dest == DestBackup || s.store == nil {
		return s.backupStore
	}
	return s.store
}

// destOf names the destination store is (see Staged.Dest).
func (s *Stream) destOf(store ObjectStore) string {
	if store == s.backupStore && store != s.store {
		return DestBackup
	}
	return ""
}

// Close flushes every buffer. The stream stays usable.
func (s *Stream) Close(ctx context.Context) error { return s.Flush(ctx) }

// Run calls Tick whenever a buffer's interval elapses, until ctx is done;
// it then returns nil. Run is the only goroutine the stream needs for
// interval-based delivery; call Close after it returns to deliver what is
// left.
func (s *Stream) Run(ctx context.Context) error {
	for {
		wait := time.Second
		s.mu.Lock()
		if t, ok := s.core.NextDeadline(); ok {
			wait = min(wait, max(t.Sub(s.now()), 10*time.Millisecond))
		}
		s.mu.Unlock()
		if err := clock.Sleep(ctx, s.deps.Clock, wait); err != nil {
			return nil
		}
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrDeliveryFailed) {
			return err
		}
	}
}

func (s *Stream) retryPending(ctx context.Context) error {
	if len(s.pendingErr) > 0 {
		f := s.pendingErr
		s.pendingErr = nil
		if err := s.writeFailures(ctx, f); err != nil {
			return err
		}
	}
	for len(s.pending) > 0 {
		p := s.pending[0]
		s.pending = s.pending[1:]
		if err := s.deliver(ctx, p.buf); err != nil {
			return err
		}
	}
	return nil
}

// objectName builds <prefix><stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><ext>.
func (s *Stream) objectName(pfx string, at time.Time, ext string) string {
	return fmt.Sprintf("%s%s-%d-%s-%s%s", pfx, s.cfg.Name, s.cfg.Version, at.Format("2006-01-02-15-04-05"), s.uuid(), ext)
}

func (s *Stream) uuid() string {
	u, err := uuid.NewRandomFromReader(s.deps.Rand)
	if err != nil {
		// Deps.Rand is crypto/rand or a test's deterministic reader; neither
		// runs dry. Fall back to the process's own source rather than fail a
		// delivery over a name.
		u = uuid.New()
	}
	return u.String()
}

const randomAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func (s *Stream) randomString() string {
	var b [prefix.RandomStringLen]byte
	io.ReadFull(s.deps.Rand, b[:])
	for i := range b {
		b[i] = randomAlphabet[int(b[i])%len(randomAlphabet)]
	}
	return string(b[:])
}

// encode renders a buffer as one object body, returning the records that
// did not convert.
func (s *Stream) encode(b *Buffer, entryName string) ([]byte, []Record, []failure, error) {
	if s.c.schema != nil {
		var out bytes.Buffer
		w, err := parquet.NewWriter(&out, s.c.schema, s.cfg.Format.Parquet.Options)
		if err != nil {
			return nil, nil, nil, err
		}
		data := make([][]byte, len(b.Records))
		for i, r := range b.Records {
			data[i] = r.Data
		}
		bad := map[int]error{}
		if _, err := w.WriteJSON(data, func(i int, err error) { bad[i] = err }); err != nil {
			return nil, nil, nil, err
		}
		if err := w.Close(); err != nil {
			return nil, nil, nil, err
		}
		var ok []Record
		var failed []failure
		now := s.now()
		for i, r := range b.Records {
			if err, isBad := bad[i]; isBad {
				failed = append(failed, failure{rec: r, typ: prefix.FormatConversionFailed, code: CodeFormatConversion, msg: err.Error(), attempts: 1, ended: now})
				continue
			}
			ok = append(ok, r)
		}
		if len(ok) == 0 {
			return nil, nil, failed, nil
		}
		return out.Bytes(), ok, failed, nil
	}
	var body []byte
	for _, r := range b.Records {
		body = appendRecord(body, s.cfg.Format.Type, s.cfg.Format.AppendNewline, r.Data)
	}
	out, err := compress(s.cfg.Compression, body, entryName)
	return out, b.Records, nil, err
}

// deliver encodes and writes one buffer, with retries; on final failure
// its records go to the backup, or stay pending.
func (s *Stream) deliver(ctx context.Context, b *Buffer) error {
	at := b.Oldest.In(s.c.loc)
	if s.http != nil {
		return s.deliverHTTP(ctx, b)
	}
	key, perr := s.c.prefixes.Prefix.Eval(prefix.Env{Time: at, QueryKeys: b.Keys.Query, LambdaKeys: b.Keys.Lambda, Random: s.randomString})
	if perr != nil {
		now := s.now()
		fs := make([]failure, len(b.Records))
		for i, r := range b.Records {
			fs[i] = failure{rec: r, typ: prefix.PartitioningFailed, code: CodePrefixEvaluation, msg: perr.Error(), attempts: 1, ended: now}
		}
		return s.writeFailures(ctx, fs)
	}
	name := s.objectName(key, at, s.c.ext)
	entry := name[len(key):]
	if s.c.ext != "" && len(entry) > len(s.c.ext) {
		entry = entry[:len(entry)-len(s.c.ext)]
	}
	body, ok, convFailed, err := s.encode(b, entry)
	if err != nil {
		return fmt.Errorf("firehose: encode: %w", err)
	}
	var errs []error
	errs = append(errs, s.writeFailures(ctx, convFailed))
	if body == nil {
		return errors.Join(errs...)
	}
	attempts, err := s.withRetry(ctx, func() error { return s.write(ctx, s.store, name, body) })
	if err == nil {
		s.stats.Objects++
		s.stats.RecordsDelivered += int64(len(ok))
		s.stats.BytesDelivered += int64(len(body))
		return errors.Join(errs...)
	}
	errs = append(errs, s.failDelivery(ctx, &Buffer{Keys: b.Keys, Records: ok, Bytes: b.Bytes, Oldest: b.Oldest, Opened: b.Opened},
		prefix.DeliveryFailed, CodeDelivery, attempts, err))
	return errors.Join(errs...)
}

// failDelivery sends undeliverable records to the backup's error prefix,
// or keeps them pending when there is no backup.
func (s *Stream) failDelivery(ctx context.Context, b *Buffer, typ, code string, attempts int, cause error) error {
	if s.backupStore == nil {
		s.pending = append(s.pending, &pendingDelivery{buf: b})
		return fmt.Errorf("%w after %d attempts (%d records kept for retry): %w", ErrDeliveryFailed, attempts, len(b.Records), cause)
	}
	now := s.now()
	fs := make([]failure, len(b.Records))
	for i, r := range b.Records {
		fs[i] = failure{rec: r, typ: typ, code: code, msg: cause.Error(), attempts: attempts, ended: now}
	}
	if err := s.writeDocs(ctx, s.backupStore, s.c.backupPrefixes.ErrorPrefix, fs); err != nil {
		s.pending = append(s.pending, &pendingDelivery{buf: b})
		return fmt.Errorf("%w: %w; backup also failed: %w", ErrDeliveryFailed, cause, err)
	}
	s.stats.BackupObjects++
	s.stats.RecordsFailed += int64(len(fs))
	return nil
}

func (s *Stream) deliverHTTP(ctx context.Context, b *Buffer) error {
	s.requests++
	reqID := fmt.Sprintf("%s-%08d-%s", s.runID, s.requests, s.uuid()[:8])
	attempts, err := s.withRetry(ctx, func() error { return s.http.send(ctx, reqID, b.Records, s.now()) })
	if err == nil {
		s.stats.Objects++
		s.stats.RecordsDelivered += int64(len(b.Records))
		s.stats.BytesDelivered += b.Bytes
		return nil
	}
	return s.failDelivery(ctx, b, prefix.HTTPEndpointFailed, CodeHTTPDestination, attempts, err)
}

// deliverBackup writes an AllData backup object of source records.
func (s *Stream) deliverBackup(ctx context.Context, b *Buffer) error {
	at := b.Oldest.In(s.c.loc)
	key, err := s.c.backupPrefixes.Prefix.Eval(prefix.Env{Time: at, Random: s.randomString})
	if err != nil {
		return fmt.Errorf("firehose: backup prefix: %w", err)
	}
	ext := extension(FormatRaw, s.cfg.Backup.Compression)
	name := s.objectName(key, at, ext)
	var body []byte
	for _, r := range b.Records {
		body = append(body, r.Data...)
	}
	entry := name[len(key) : len(name)-len(ext)]
	if body, err = compress(s.cfg.Backup.Compression, body, entry); err != nil {
		return err
	}
	if _, err := s.withRetry(ctx, func() error { return s.write(ctx, s.backupStore, name, body) }); err != nil {
		// Source records are still delivered to the main destination;
		// a lost backup copy is reported, not hidden.
		return fmt.Errorf("firehose: AllData backup of %d records: %w", len(b.Records), err)
	}
	s.stats.BackupObjects++
	return nil
}

// writeFailures writes error documents to the error output, grouped by
// error-output type.
func (s *Stream) writeFailures(ctx context.Context, fs []failure) error {
	if len(fs) == 0 {
		return nil
	}
	if s.errStore == nil {
		return fmt.Errorf("%w: %d failed records and no error output", ErrDeliveryFailed, len(fs))
	}
	if err := s.writeDocs(ctx, s.errStore, s.errPrefix, fs); err != nil {
		s.pendingErr = append(s.pendingErr, fs...)
		return fmt.Errorf("%w: error output: %w", ErrDeliveryFailed, err)
	}
	s.stats.RecordsFailed += int64(len(fs))
	s.stats.ErrorObjects++
	return nil
}

func (s *Stream) writeDocs(ctx context.Context, store ObjectStore, pfx *prefix.Expr, fs []failure) error {
	byType := map[string][]failure{}
	var types []string
	for _, f := range fs {
		if _, ok := byType[f.typ]; !ok {
			types = append(types, f.typ)
		}
		byType[f.typ] = append(byType[f.typ], f)
	}
	sort.Strings(types)
	table := ""
	if s.cfg.Format.Parquet != nil {
		table = s.cfg.Format.Parquet.Table
	}
	lambdaArn := ""
	if s.cfg.Processing != nil {
		lambdaArn = s.cfg.Processing.LambdaArn
	}
	for _, typ := range types {
		group := byType[typ]
		oldest := group[0].rec.ArrivalTime
		var body []byte
		for _, f := range group {
			if f.rec.ArrivalTime.Before(oldest) {
				oldest = f.rec.ArrivalTime
			}
			d, err := f.doc(lambdaArn, table)
			if err != nil {
				return err
			}
			body = append(append(body, d...), '\n')
		}
		at := oldest.In(s.c.loc)
		key, err := pfx.Eval(prefix.Env{Time: at, ErrorOutputType: typ, Random: s.randomString})
		if err != nil {
			return fmt.Errorf("firehose: error prefix: %w", err)
		}
		name := s.objectName(key, at, "")
		if _, err := s.withRetry(ctx, func() error { return s.write(ctx, store, name, body) }); err != nil {
			return err
		}
	}
	return nil
}

// write puts or, while staging, stages an object.
func (s *Stream) write(ctx context.Context, store ObjectStore, key string, body []byte) error {
	if s.stageHook != nil {
		return s.stageHook(ctx, store, stageReq{dest: s.destOf(store), key: key, body: body})
	}
	if s.staging == nil {
		return store.Put(ctx, key, body)
	}
	st, err := store.Stage(ctx, key, body)
	if err != nil {
		return err
	}
	st.Dest = s.destOf(store)
	*s.staging = append(*s.staging, st)
	return nil
}

// withRetry calls op until it succeeds or the retry duration (by the
// stream clock) has passed, waiting RetryInterval between attempts.
func (s *Stream) withRetry(ctx context.Context, op func() error) (attempts int, err error) {
	p := backoff.Policy{Initial: s.deps.RetryInterval, Within: time.Duration(*s.cfg.RetryDurationInSeconds) * time.Second}
	return backoff.Retry(ctx, s.deps.Clock, p, func(int) error { return op() })
}
