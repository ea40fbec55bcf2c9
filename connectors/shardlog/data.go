package shardlog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/connectors/shardlog/internal/storage"
)

// PutEntry is one record to put.
type PutEntry struct {
	PartitionKey string
	// ExplicitHashKey, a decimal in [0, 2^128-1], overrides the MD5 of the
	// partition key when set.
	ExplicitHashKey string
	Data            []byte
}

// PutResult is the outcome of one record of PutRecords: a sequence number
// and shard, or, for a record that was not stored, its error: ErrorCode
// (ProvisionedThroughputExceededException or InternalFailure) and Err,
// the refusal with its facts.
type PutResult struct {
	SequenceNumber SequenceNumber
	ShardID        string
	ErrorCode      ErrorCode
	Err            *Error
}

// putScratch is reused across PutRecords calls so that the put path does
// not allocate per record.
type putScratch struct {
	shardOf []int32  // per entry: index into shards, or -1 (throttled)
	shards  []*shard // distinct shards touched
	batches [][]storage.Entry
	offs    [][]int32 // per shard: entry indexes in batch order
	bases   []uint64
	times   []int64 // each batch's arrival time, Unix ms
	errs    []error
	// Per shard: the refusal its failed (throttled) records share.
	failed, throttled []*Error
	hot               []*shard
}

var scratchPool = sync.Pool{New: func() any { return new(putScratch) }}

// reset empties the batches (on every return: a later put appends to them)
// and drops the references the scratch holds.
func (sc *putScratch) reset() {
	clear(sc.failed)
	clear(sc.throttled)
	for si := range sc.batches {
		clear(sc.batches[si])
		sc.batches[si] = sc.batches[si][:0]
		sc.offs[si] = sc.offs[si][:0]
	}
}

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// validatePut checks one record as Kinesis validates PutRecord and each
// member of PutRecords (member is its 1-based index there, 0 for PutRecord).
func validatePut(e *PutEntry, member int) error {
	if n := len(e.PartitionKey); n >= 1 && n <= MaxPartitionKeyLen && len(e.Data)+n <= MaxRecordBytes {
		return nil
	}
	var err *Error
	switch n := len(e.PartitionKey); {
	case n < 1 || n > MaxPartitionKeyLen:
		err = refuse(CodeValidation, ReasonPartitionKeyLength)
		err.Value = e.PartitionKey
	case len(e.Data) > MaxRecordBytes:
		err = refuse(CodeValidation, ReasonDataTooLong)
		err.Requested, err.Limit = int64(len(e.Data)), MaxRecordBytes
	default:
		// The 1 MiB record limit covers the partition key and the data
		// blob together.
		err = refuse(CodeInvalidArgument, ReasonRecordTooLarge)
		err.Requested, err.Limit = int64(len(e.Data)+n), MaxRecordBytes
	}
	err.Index = member
	return err
}

func hashOf(e *PutEntry, member int) (HashKey, error) {
	if e.ExplicitHashKey == "" {
		return PartitionHash(bytesOf(e.PartitionKey)), nil
	}
	k, ok := ParseHashKey(e.ExplicitHashKey)
	if !ok {
		err := refuse(CodeInvalidArgument, ReasonExplicitHashKeyInvalid)
		err.Value, err.Index = e.ExplicitHashKey, member
		return HashKey{}, err
	}
	return k, nil
}

func (st *stream) route(k HashKey) *shard {
	i := sort.Search(len(st.open), func(i int) bool { return st.open[i].rng.Start.Cmp(k) > 0 }) - 1
	if i < 0 {
		return nil
	}
	return st.open[i]
}

// PutRecord stores one record and returns its sequence number and shard.
// It blocks until the record is durable (see SyncMode). A throttled record
// fails with ProvisionedThroughputExceededException.
func (l *Log) PutRecord(ctx context.Context, ref StreamRef, e PutEntry, sequenceNumberForOrdering string) (PutResult, error) {
	if sequenceNumberForOrdering != "" && !validSeqSyntax(sequenceNumberForOrdering) {
		e := refuse(CodeValidation, ReasonOrderingSequenceInvalid)
		e.Value = sequenceNumberForOrdering
		return PutResult{}, e
	}
	if err := validatePut(&e, 0); err != nil {
		return PutResult{}, err
	}
	// "0" is below every sequence number: no ordering asked for.
	if sequenceNumberForOrdering != "" && sequenceNumberForOrdering != "0" {
		if _, ok := ParseSequenceNumber(sequenceNumberForOrdering); !ok {
			// Kinesis looks the stream up first: a missing stream is
			// reported before a foreign sequence number.
			st, err := l.streamRef(ref)
			if err != nil {
				return PutResult{}, err
			}
			e := refuse(CodeInvalidArgument, ReasonOrderingSequenceForeign)
			e.Stream, e.Value = st.name, sequenceNumberForOrdering
			return PutResult{}, e
		}
	}
	var res [1]PutResult
	out, err := l.put(ctx, ref, []PutEntry{e}, res[:0], true)
	if err != nil {
		return PutResult{}, err
	}
	if out[0].Err != nil {
		return PutResult{}, out[0].Err
	}
	return out[0], nil
}

// PutRecords stores up to 500 records (5 MiB in all) and appends one
// result per entry to results, in order. Records for the same shard are
// stored in request order; each shard's records are one batch with one
// fsync. A record refused by the throughput limits gets an error code in
// its result while the others are stored; the count of failed records is
// the number of results with an Err. The returned slice aliases
// results' array when it is large enough, so a caller that reuses it puts
// without allocating.
func (l *Log) PutRecords(ctx context.Context, ref StreamRef, entries []PutEntry, results []PutResult) ([]PutResult, error) {
	if len(entries) < 1 {
		return results, refuse(CodeValidation, ReasonNoRecords)
	}
	if len(entries) > MaxPutRecords {
		e := refuse(CodeValidation, ReasonTooManyRecords)
		e.Requested, e.Limit = int64(len(entries)), MaxPutRecords
		return results, e
	}
	total := 0
	for i := range entries {
		if err := validatePut(&entries[i], i+1); err != nil {
			return results, err
		}
		total += len(entries[i].Data) + len(entries[i].PartitionKey)
	}
	if total > MaxPutRecordsBytes {
		e := refuse(CodeInvalidArgument, ReasonRecordsTooLarge)
		e.Requested, e.Limit = int64(total), MaxPutRecordsBytes
		return results, e
	}
	return l.put(ctx, ref, entries, results, false)
}

func (l *Log) put(ctx context.Context, ref StreamRef, entries []PutEntry, results []PutResult, single bool) ([]PutResult, error) {
	if err := ctx.Err(); err != nil {
		return results, err
	}
	st, err := l.streamRef(ref)
	if err != nil {
		return results, err
	}
	sc := scratchPool.Get().(*putScratch)
	defer scratchPool.Put(sc)
	defer sc.reset()
	now := l.clock.Now()
	nowMs := now.UnixMilli()
	limits := l.opts.Limits
	ondemand := false

	st.mu.RLock()
	if err := st.readableLocked(now); err != nil {
		st.mu.RUnlock()
		return results, err
	}
	ondemand = st.mode == ModeOnDemand
	sc.shardOf = sc.shardOf[:0]
	sc.shards = sc.shards[:0]
	sc.hot = sc.hot[:0]
	for i := range entries {
		e := &entries[i]
		member := i + 1
		if single {
			member = 0
		}
		k, err := hashOf(e, member)
		if err != nil {
			st.mu.RUnlock()
			return results, err
		}
		sh := st.route(k)
		if sh == nil {
			st.mu.RUnlock()
			e := refuse(CodeInternalFailure, ReasonNoShardForHashKey)
			e.Stream, e.Value = st.name, k.String()
			return results, e
		}
		si := -1
		for j, s := range sc.shards {
			if s == sh {
				si = j
				break
			}
		}
		if si < 0 {
			si = len(sc.shards)
			sc.shards = append(sc.shards, sh)
		}
		sc.shardOf = append(sc.shardOf, int32(si))
	}
	// Throttle and observe load per record, in request order.
	for i := range entries {
		sh := sc.shards[sc.shardOf[i]]
		size := int64(len(entries[i].Data) + len(entries[i].PartitionKey))
		sh.lim.mu.Lock()
		ok := true
		if limits != nil {
			ok = sh.lim.inRecs.take(now, 1)
			if ok && !sh.lim.inBytes.take(now, float64(size)) {
				sh.lim.inRecs.tokens++ // give the record token back
				ok = false
			}
		}
		if ok && ondemand {
			sec := now.Unix()
			if sec != sh.lim.winStart {
				hot := sh.lim.winStart == sec-1 && (sh.lim.winRecs > l.opts.OnDemand.SplitRecordsPerSec || sh.lim.winBytes > l.opts.OnDemand.SplitBytesPerSec)
				sh.lim.winStart, sh.lim.winRecs, sh.lim.winBytes = sec, 0, 0
				if hot {
					sc.hot = append(sc.hot, sh)
				}
			}
			sh.lim.winRecs++
			sh.lim.winBytes += size
		}
		sh.lim.mu.Unlock()
		if !ok {
			sc.shardOf[i] = -1 - sc.shardOf[i]
		}
	}
	// One batch per shard.
	n := len(sc.shards)
	sc.batches = growBatches(sc.batches, n)
	sc.offs = growOffs(sc.offs, n)
	sc.bases = append(sc.bases[:0], make([]uint64, n)...)
	sc.times = append(sc.times[:0], make([]int64, n)...)
	sc.errs = append(sc.errs[:0], make([]error, n)...)
	sc.failed = append(sc.failed[:0], make([]*Error, n)...)
	sc.throttled = append(sc.throttled[:0], make([]*Error, n)...)
	for i := range entries {
		si := sc.shardOf[i]
		if si < 0 {
			continue
		}
		sc.batches[si] = append(sc.batches[si], storage.Entry{Key: bytesOf(entries[i].PartitionKey), Data: entries[i].Data})
		sc.offs[si] = append(sc.offs[si], int32(i))
	}
	var wg sync.WaitGroup
	for si := 0; si < n; si++ {
		if len(sc.batches[si]) == 0 {
			continue
		}
		// Shards fsync in parallel; the last batch runs on this goroutine.
		run := func(si int) {
			sc.bases[si], sc.times[si], sc.errs[si] = sc.shards[si].log.AppendAt(nowMs, sc.batches[si])
		}
		if si == n-1 {
			run(si)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(si)
		}()
	}
	wg.Wait()
	st.mu.RUnlock()

	// Results in request order.
	start := len(results)
	results = growResults(results, len(entries))
	out := results[start:]
	for si := 0; si < n; si++ {
		for j, i := range sc.offs[si] {
			r := &out[i]
			r.ShardID = sc.shards[si].id
			if err := sc.errs[si]; err != nil {
				if single {
					return results[:start], fmt.Errorf("shardlog: put to %s: %w", r.ShardID, err)
				}
				if sc.failed[si] == nil {
					f := refuse(CodeInternalFailure, ReasonWriteFailed)
					f.Stream, f.Shard, f.Err = st.name, r.ShardID, err
					sc.failed[si] = f
				}
				r.ErrorCode, r.Err = CodeInternalFailure, sc.failed[si]
				continue
			}
			r.SequenceNumber = seqForOffset(sc.shards[si], sc.bases[si]+uint64(j), sc.times[si])
		}
	}
	for i := range entries {
		if si := sc.shardOf[i]; si < 0 {
			// One refusal per throttled shard, shared by its records.
			si = -1 - si
			if sc.throttled[si] == nil {
				f := refuse(CodeProvisionedThroughput, ReasonWriteThrottled)
				f.Stream, f.Shard = st.name, sc.shards[si].id
				sc.throttled[si] = f
			}
			out[i] = PutResult{ErrorCode: CodeProvisionedThroughput, Err: sc.throttled[si]}
		}
	}
	if len(sc.hot) > 0 {
		st.maybeScale(sc.hot)
	}
	return results, nil
}

func growBatches(b [][]storage.Entry, n int) [][]storage.Entry {
	for len(b) < n {
		b = append(b, nil)
	}
	return b
}

func growOffs(b [][]int32, n int) [][]int32 {
	for len(b) < n {
		b = append(b, nil)
	}
	return b
}

func growResults(r []PutResult, n int) []PutResult {
	start := len(r)
	if cap(r)-start >= n {
		r = r[:start+n]
		clear(r[start:])
		return r
	}
	return append(r, make([]PutResult, n)...)
}

// --- reading ---

// IteratorType is where reading starts.
type IteratorType string

// Iterator types.
const (
	AtSequenceNumber    IteratorType = "AT_SEQUENCE_NUMBER"
	AfterSequenceNumber IteratorType = "AFTER_SEQUENCE_NUMBER"
	TrimHorizon         IteratorType = "TRIM_HORIZON"
	Latest              IteratorType = "LATEST"
	AtTimestamp         IteratorType = "AT_TIMESTAMP"
)

// StartPosition says where to start reading a shard.
type StartPosition struct {
	Type           IteratorType
	SequenceNumber string    // AT_/AFTER_SEQUENCE_NUMBER
	Timestamp      time.Time // AT_TIMESTAMP
}

// Record is one record read back. PartitionKey and Data alias the reader's
// buffer and stay valid until its next read.
type Record struct {
	SequenceNumber SequenceNumber
	ArrivalTime    time.Time // millisecond precision
	PartitionKey   []byte
	Data           []byte
}

// ChildShard names a shard that took over (part of) a closed shard's range.
type ChildShard struct {
	ShardID      string
	ParentShards []string
	HashKeyRange HashKeyRange
}

// ReadResult is one batch read from a shard.
type ReadResult struct {
	Records []Record
	// Next is where the next read starts: AFTER_SEQUENCE_NUMBER Next
	// resumes just after the last record returned (what a checkpoint
	// stores).
	Next SequenceNumber
	// MillisBehindLatest is how far the read is behind the tip of the
	// shard: 0 when caught up.
	MillisBehindLatest int64
	// ShardEnded is set when the shard is closed and every record of it has
	// been read; ChildShards then lists the shards to read next.
	ShardEnded  bool
	ChildShards []ChildShard
}

// RecordBuffer holds the records of one read; reuse it to read without
// allocating. The zero value is ready to use.
type RecordBuffer struct {
	rb   storage.ReadBuf
	recs []Record
	res  ReadResult
}

// startOffset turns a start position into a storage offset. The stream's
// mu is held for reading.
func (st *stream) startOffset(sh *shard, p StartPosition, now time.Time) (uint64, error) {
	switch p.Type {
	case TrimHorizon:
		return st.trimHorizon(sh, now)
	case Latest:
		if sh.closed {
			return sh.end, nil
		}
		return sh.log.Next(), nil
	case AtSequenceNumber, AfterSequenceNumber:
		if p.SequenceNumber == "" {
			e := refuse(CodeInvalidArgument, ReasonStartingSequenceMissing)
			e.Value = string(p.Type)
			return 0, e
		}
		seq, ok := ParseSequenceNumber(p.SequenceNumber)
		if !ok {
			e := refuse(CodeInvalidArgument, ReasonStartingSequenceInvalid)
			e.Stream, e.Shard, e.Value = st.name, sh.id, p.SequenceNumber
			return 0, e
		}
		if seq.Shard != sh.idx {
			e := refuse(CodeInvalidArgument, ReasonStartingSequenceElsewhere)
			e.Shard, e.OtherShard, e.Value = sh.id, ShardID(seq.Shard), p.SequenceNumber
			return 0, e
		}
		off := seq.Offset()
		if p.Type == AfterSequenceNumber {
			off = seq.Pos
		}
		if off < sh.log.First() {
			return st.trimHorizon(sh, now)
		}
		return off, nil
	case AtTimestamp:
		if p.Timestamp.IsZero() {
			return 0, refuse(CodeInvalidArgument, ReasonTimestampMissing)
		}
		if p.Timestamp.After(now) {
			e := refuse(CodeInvalidArgument, ReasonTimestampInFuture)
			e.Time, e.Now = p.Timestamp, now
			return 0, e
		}
		horizon := now.Add(-time.Duration(st.retention) * time.Hour)
		t := p.Timestamp
		if t.Before(horizon) {
			t = horizon
		}
		off, err := sh.log.SeekTime(t.UnixMilli())
		if err != nil {
			return 0, fmt.Errorf("shardlog: %w", err)
		}
		return off, nil
	case "":
		return 0, refuse(CodeValidation, ReasonIteratorTypeMissing)
	}
	e := refuse(CodeValidation, ReasonIteratorTypeInvalid)
	e.Value = string(p.Type)
	return 0, e
}

func (st *stream) trimHorizon(sh *shard, now time.Time) (uint64, error) {
	cutoff := now.Add(-time.Duration(st.retention) * time.Hour).UnixMilli()
	off, err := sh.log.SeekTime(cutoff)
	if err != nil {
		return 0, fmt.Errorf("shardlog: %w", err)
	}
	return off, nil
}

// readLocked reads from offset from of sh into buf. The stream's mu is held
// for reading.
func (st *stream) readLocked(sh *shard, from uint64, maxRecords, maxBytes int, now time.Time, buf *RecordBuffer) (*ReadResult, error) {
	minTs := now.Add(-time.Duration(st.retention) * time.Hour).UnixMilli()
	end := sh.log.Next()
	if sh.closed {
		end = sh.end
	}
	next := from
	if from < end {
		var err error
		next, err = sh.log.Read(from, maxRecords, maxBytes, minTs, &buf.rb)
		if err != nil {
			return nil, fmt.Errorf("shardlog: read %s/%s: %w", st.name, sh.id, err)
		}
	} else {
		buf.rb.Records = buf.rb.Records[:0]
	}
	if next > end {
		next = end
	}
	buf.recs = buf.recs[:0]
	for _, r := range buf.rb.Records {
		if r.Offset >= end {
			break
		}
		buf.recs = append(buf.recs, Record{
			SequenceNumber: seqForOffset(sh, r.Offset, r.Timestamp),
			ArrivalTime:    time.UnixMilli(r.Timestamp),
			PartitionKey:   r.Key,
			Data:           r.Data,
		})
	}
	res := &buf.res
	*res = ReadResult{Records: buf.recs, Next: seqAt(sh, next), ChildShards: res.ChildShards[:0]}
	if n := len(buf.recs); n > 0 && buf.recs[n-1].SequenceNumber.Pos == next {
		res.Next = buf.recs[n-1].SequenceNumber // the last record read, as Kinesis names it
	}
	if next < end {
		last := sh.log.LastTimestamp()
		if n := len(buf.recs); n > 0 {
			res.MillisBehindLatest = max(0, now.UnixMilli()-buf.recs[n-1].ArrivalTime.UnixMilli())
		} else if last != 0 {
			res.MillisBehindLatest = max(0, now.UnixMilli()-last)
		}
	}
	if sh.closed && next >= end {
		res.ShardEnded = true
		res.ChildShards = st.childShardsLocked(sh, res.ChildShards)
	}
	return res, nil
}

func (st *stream) childShardsLocked(sh *shard, dst []ChildShard) []ChildShard {
	for _, cid := range sh.children {
		c, err := st.shardLocked(cid)
		if err != nil {
			continue
		}
		ps := []string{c.parent}
		if c.adjParent != "" {
			ps = append(ps, c.adjParent)
		}
		dst = append(dst, ChildShard{ShardID: c.id, ParentShards: ps, HashKeyRange: c.rng})
	}
	return dst
}

// ShardReader reads one shard in order, for Go programs and the engine's
// source. It is not safe for concurrent use; use one per shard.
type ShardReader struct {
	l    *Log
	st   *stream
	sh   *shard
	next uint64
	last SequenceNumber // the last Next read, which names the last record read
	buf  RecordBuffer
}

// NewShardReader starts reading shardID of the stream at start.
func (l *Log) NewShardReader(ref StreamRef, shardID string, start StartPosition) (*ShardReader, error) {
	st, err := l.streamRef(ref)
	if err != nil {
		return nil, err
	}
	now := l.clock.Now()
	st.mu.RLock()
	defer st.mu.RUnlock()
	if err := st.readableLocked(now); err != nil {
		return nil, err
	}
	sh, err := st.shardLocked(shardID)
	if err != nil {
		return nil, err
	}
	off, err := st.startOffset(sh, start, now)
	if err != nil {
		return nil, err
	}
	return &ShardReader{l: l, st: st, sh: sh, next: off}, nil
}

// ShardID is the shard being read.
func (r *ShardReader) ShardID() string { return r.sh.id }

// Position is where the next read starts; give it back as
// AFTER_SEQUENCE_NUMBER to resume (it is the last record read, or the
// shard's starting sequence number before any).
func (r *ShardReader) Position() SequenceNumber {
	if r.last.Pos == r.next && r.next != 0 {
		return r.last
	}
	return seqAt(r.sh, r.next)
}

// Read returns the next records, at most maxRecords and about maxBytes
// (at least one record when any is available). With wait set and nothing
// to read, it blocks until a record arrives, the shard is closed, or ctx
// ends (returning ctx.Err()). Once the shard is closed and read to its end,
// the result has ShardEnded and ChildShards. Records stay valid until the
// next Read.
func (r *ShardReader) Read(ctx context.Context, maxRecords, maxBytes int, wait bool) (*ReadResult, error) {
	if maxRecords <= 0 || maxRecords > MaxGetRecords {
		maxRecords = MaxGetRecords
	}
	if maxBytes <= 0 {
		maxBytes = MaxGetRecordsBytes
	}
	for {
		now := r.l.clock.Now()
		reshardAt, err := r.st.settle(now)
		if err != nil {
			return nil, err
		}
		r.st.mu.RLock()
		if r.st.deleted {
			r.st.mu.RUnlock()
			return nil, r.l.notFound(r.st.name)
		}
		res, err := r.st.readLocked(r.sh, r.next, maxRecords, maxBytes, now, &r.buf)
		closedCh, pendingCh := r.sh.closedCh, r.st.pendingCh
		r.st.mu.RUnlock()
		if err != nil {
			return nil, err
		}
		r.next = res.Next.Pos
		r.last = res.Next
		if len(res.Records) > 0 || res.ShardEnded || !wait {
			return res, nil
		}
		notify := r.sh.log.Notify()
		if r.sh.log.Next() > r.next {
			continue
		}
		var reshard <-chan time.Time
		stop := func() {}
		if !reshardAt.IsZero() {
			// A reshard pending until the stream is ACTIVE again may end
			// the shard then: wake up for it.
			t := r.l.clock.NewTimer(reshardAt.Sub(now))
			reshard, stop = t.C(), func() { t.Stop() }
			if !r.l.clock.Now().Before(reshardAt) {
				// The clock passed the reshard while the timer was
				// being armed (a timer is set from the clock's time when
				// armed).
				stop()
				continue
			}
		}
		select {
		case <-notify:
		case <-closedCh:
		case <-pendingCh:
		case <-reshard:
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
		stop()
	}
}

// --- shard iterators ---

// ShardIterator is a position in one shard of one stream, and the time it
// was issued: what GetShardIterator returns and GetRecords reads from. It
// expires Options.IteratorTTL after Issued. It names the stream by name
// and creation time, so that an iterator of a stream deleted and created
// again is refused. The Kinesis server (kinesisapi) hands it to clients as
// a signed token.
type ShardIterator struct {
	Stream        string
	StreamCreated time.Time // millisecond precision, as stored
	// Next is where reading starts: AFTER_SEQUENCE_NUMBER Next.
	Next   SequenceNumber
	Issued time.Time // millisecond precision
}

// IsZero reports whether it is no iterator: GetRecords' NextShardIterator
// once a closed shard has been read to its end.
func (it ShardIterator) IsZero() bool { return it.Stream == "" }

// IteratorKey is a random key kept in the log's directory
// (shardlog.json), for signing what the log hands out as tokens: it stays
// the same across restarts. The caller must not modify it.
func (l *Log) IteratorKey() []byte { return l.key }

func msTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

// GetShardIterator returns an iterator for reading shardID from p. It
// expires after Options.IteratorTTL (5 minutes).
func (l *Log) GetShardIterator(ref StreamRef, shardID string, p StartPosition) (ShardIterator, error) {
	// Kinesis reads the shard id before it looks the stream up, and for a
	// stream it does not find it reports the shard.
	idx, err := shardIndex(ref.Name, shardID)
	if err != nil {
		return ShardIterator{}, err
	}
	st, err := l.streamRef(ref)
	if e := (*Error)(nil); errors.As(err, &e) && e.Reason == ReasonStreamNotFound {
		nf := refuse(CodeResourceNotFound, ReasonShardNotFound)
		nf.Stream, nf.Shard = e.Stream, ShardID(idx)
		return ShardIterator{}, nf
	}
	if err != nil {
		return ShardIterator{}, err
	}
	now := l.clock.Now()
	st.mu.RLock()
	defer st.mu.RUnlock()
	if err := st.readableLocked(now); err != nil {
		return ShardIterator{}, err
	}
	sh, err := st.shardLocked(shardID)
	if err != nil {
		return ShardIterator{}, err
	}
	if p.SequenceNumber != "" && (p.Type == TrimHorizon || p.Type == Latest) {
		// Kinesis refuses a sequence number it would ignore.
		e := refuse(CodeInvalidArgument, ReasonStartingSequenceUnwanted)
		e.Value = string(p.Type)
		return ShardIterator{}, e
	}
	off, err := st.startOffset(sh, p, now)
	if err != nil {
		return ShardIterator{}, err
	}
	return ShardIterator{Stream: st.name, StreamCreated: msTime(st.created), Next: SequenceNumber{Shard: sh.idx, Pos: off}, Issued: msTime(now)}, nil
}

// GetRecordsOutput is what GetRecords returns. Records alias the
// RecordBuffer passed in.
type GetRecordsOutput struct {
	ReadResult
	// NextShardIterator is zero once a closed shard has been read to its
	// end (then ChildShards is set).
	NextShardIterator ShardIterator
}

// GetRecords reads up to limit records (default and maximum 10,000; at most
// 10 MiB) at a shard iterator. It does not block: an empty result with a
// next iterator means there is nothing new yet.
func (l *Log) GetRecords(ctx context.Context, it ShardIterator, limit int, buf *RecordBuffer) (GetRecordsOutput, error) {
	if err := ctx.Err(); err != nil {
		return GetRecordsOutput{}, err
	}
	if limit == 0 {
		limit = MaxGetRecords
	}
	if limit < 1 || limit > MaxGetRecords {
		e := refuse(CodeValidation, ReasonGetRecordsLimit)
		e.Requested, e.Limit = int64(limit), MaxGetRecords
		return GetRecordsOutput{}, e
	}
	now := l.clock.Now()
	if d := now.UnixMilli() - it.Issued.UnixMilli(); d > l.opts.IteratorTTL.Milliseconds() {
		e := refuse(CodeExpiredIterator, ReasonIteratorExpired)
		e.Time, e.Now, e.Limit = it.Issued, now, l.opts.IteratorTTL.Milliseconds()
		return GetRecordsOutput{}, e
	}
	st, err := l.stream(it.Stream)
	if err != nil {
		return GetRecordsOutput{}, err
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	if st.created.UnixMilli() != it.StreamCreated.UnixMilli() {
		return GetRecordsOutput{}, l.notFound(st.name)
	}
	if err := st.readableLocked(now); err != nil {
		return GetRecordsOutput{}, err
	}
	sh, err := st.shardLocked(ShardID(it.Next.Shard))
	if err != nil {
		return GetRecordsOutput{}, err
	}
	if l.opts.Limits != nil {
		sh.lim.mu.Lock()
		ok := sh.lim.outCalls.take(now, 1) && sh.lim.outBytes.allowDebt(now)
		sh.lim.mu.Unlock()
		if !ok {
			e := refuse(CodeProvisionedThroughput, ReasonReadThrottled)
			e.Stream, e.Shard = st.name, sh.id
			return GetRecordsOutput{}, e
		}
	}
	res, err := st.readLocked(sh, it.Next.Pos, limit, MaxGetRecordsBytes, now, buf)
	if err != nil {
		return GetRecordsOutput{}, err
	}
	sh.readLag.Store(res.MillisBehindLatest)
	if l.opts.Limits != nil {
		sh.lim.mu.Lock()
		sh.lim.outBytes.spend(float64(buf.rb.Bytes))
		sh.lim.mu.Unlock()
	}
	out := GetRecordsOutput{ReadResult: *res}
	if !res.ShardEnded {
		out.NextShardIterator = ShardIterator{Stream: it.Stream, StreamCreated: it.StreamCreated, Next: res.Next, Issued: msTime(now)}
	}
	return out, nil
}

// IsRetryable reports whether err is a throttling or transient error that a
// client should retry with backoff.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrThroughputExceeded) || errors.Is(err, ErrLimitExceeded) || CodeOf(err) == CodeInternalFailure && !errors.Is(err, ErrClosed)
}
