package consumer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// eventLog is a file that every processor of a test, in any process,
// appends one line per event to with one write(2) (O_APPEND), so that the
// file orders the events of all processes:
//
//	I worker shard checkpoint   Initialize
//	P worker shard seq data     a record processed
//	C worker shard seq          a checkpoint written (seq or SHARD_END)
//	X worker shard              a checkpoint refused: lease lost
//	E worker shard              ShardEnded (before its checkpoint)
//	S worker shard              ShutdownRequested
//	L worker shard              LeaseLost
type eventLog struct{ f *os.File }

func openEventLog(path string) (*eventLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &eventLog{f: f}, nil
}

func (e *eventLog) add(fields ...string) error {
	_, err := e.f.WriteString(strings.Join(fields, " ") + "\n")
	return err
}

// recordingProcessor records every call and checkpoints after each batch
// (every checkpointEvery-th batch), at shard end and at shutdown.
type recordingProcessor struct {
	log             *eventLog
	worker, shard   string
	checkpointEvery int
	batches         int
}

func (p *recordingProcessor) Initialize(in InitializationInput) error {
	p.shard = in.ShardID
	return p.log.add("I", p.worker, p.shard, in.ExtendedSequenceNumber.String())
}

func (p *recordingProcessor) checkpoint(ctx context.Context, cp Checkpointer, at string) error {
	err := cp.Checkpoint(ctx)
	if errors.Is(err, ErrLeaseLost) {
		return p.log.add("X", p.worker, p.shard)
	}
	if err != nil {
		return err
	}
	return p.log.add("C", p.worker, p.shard, at)
}

func (p *recordingProcessor) ProcessRecords(in ProcessRecordsInput) error {
	var b strings.Builder
	for _, r := range in.Records {
		fmt.Fprintf(&b, "P %s %s %s %s\n", p.worker, p.shard, r.SequenceNumber, r.Data)
	}
	if _, err := p.log.f.WriteString(b.String()); err != nil {
		return err
	}
	p.batches++
	if len(in.Records) == 0 || p.batches%max(1, p.checkpointEvery) != 0 {
		return nil
	}
	return p.checkpoint(in.Context, in.Checkpointer, in.Records[len(in.Records)-1].SequenceNumber)
}

func (p *recordingProcessor) LeaseLost(LeaseLostInput) error {
	return p.log.add("L", p.worker, p.shard)
}

func (p *recordingProcessor) ShardEnded(in ShardEndedInput) error {
	if err := p.log.add("E", p.worker, p.shard); err != nil {
		return err
	}
	return p.checkpoint(in.Context, in.Checkpointer, ShardEnd)
}

func (p *recordingProcessor) ShutdownRequested(in ShutdownRequestedInput) error {
	if err := p.log.add("S", p.worker, p.shard); err != nil {
		return err
	}
	cp := in.Checkpointer.(*checkpointer)
	last := cp.after()
	if last.IsSentinel() {
		return nil
	}
	return p.checkpoint(in.Context, in.Checkpointer, last.SequenceNumber)
}

// streamTruth is what the stream holds, read shard by shard with a plain
// GetRecords loop.
type streamTruth struct {
	order   []string            // shards
	records map[string][]string // shard -> "seq data"
	parents map[string][]string
	closed  map[string]bool
}

func readTruth(t testing.TB, c *kinesis.Client, stream string) *streamTruth {
	t.Helper()
	ctx := context.Background()
	tr := &streamTruth{records: map[string][]string{}, parents: map[string][]string{}, closed: map[string]bool{}}
	res, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Shards {
		id := aws.ToString(s.ShardId)
		tr.order = append(tr.order, id)
		tr.parents[id] = parentsOf(s)
		tr.closed[id] = s.SequenceNumberRange.EndingSequenceNumber != nil
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(id), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				tr.records[id] = append(tr.records[id], aws.ToString(r.SequenceNumber)+" "+string(r.Data))
			}
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
				break // an open shard read to its tip
			}
			iter = out.NextShardIterator
		}
	}
	return tr
}

func (tr *streamTruth) total() int {
	n := 0
	for _, rs := range tr.records {
		n += len(rs)
	}
	return n
}

type stint struct {
	worker, shard, start string
	records              []string // "seq data"
	end                  string   // terminal event: E, S, L, or "" (killed, or running)
	lostCheckpoint       bool     // an X
	line                 int
}

// parsedLog is an event log read back.
type parsedLog struct {
	lines  [][]string
	stints []*stint
}

func readEventLog(t testing.TB, path string) *parsedLog {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Workers may be writing: a last line without its newline is not
	// read yet.
	if i := strings.LastIndexByte(string(b), '\n'); i >= 0 {
		b = b[:i]
	} else {
		b = nil
	}
	pl := &parsedLog{}
	open := map[string]*stint{}
	want := map[string]int{"I": 4, "P": 5, "C": 4, "X": 3, "E": 3, "S": 3, "L": 3}
	for i, ln := range strings.Split(string(b), "\n") {
		if ln == "" {
			continue
		}
		f := strings.Fields(ln)
		if len(f) != want[f[0]] {
			t.Fatalf("event log line %d: %q", i+1, ln)
		}
		pl.lines = append(pl.lines, f)
		key := f[1] + " " + f[2]
		switch f[0] {
		case "I":
			s := &stint{worker: f[1], shard: f[2], start: f[3], line: i + 1}
			pl.stints = append(pl.stints, s)
			open[key] = s
		case "P":
			if s := open[key]; s != nil {
				s.records = append(s.records, f[3]+" "+f[4])
			} else {
				t.Errorf("event log line %d: record processed outside Initialize..end: %q", i+1, ln)
			}
		case "X":
			if s := open[key]; s != nil {
				s.lostCheckpoint = true
			}
		case "E", "S", "L":
			if s := open[key]; s != nil && s.end == "" {
				s.end = f[0]
			}
		}
	}
	return pl
}

// processedRecords counts the distinct records processed so far.
func (pl *parsedLog) processed() int {
	seen := map[string]bool{}
	for _, s := range pl.stints {
		for _, r := range s.records {
			seen[s.shard+" "+r] = true
		}
	}
	return len(seen)
}

// check holds the event log to the consumer's promises over truth:
// every record processed; each processor's records a contiguous run of its
// shard in order, starting right after its checkpoint; no record processed
// again at or before a checkpoint written earlier; duplicates only from a
// processor that lost its lease or was killed; children processed only
// after their parents' end; each key's first processings in key order.
// killed names the workers killed without a shutdown.
func (pl *parsedLog) check(errorf func(format string, args ...any), tr *streamTruth, killed map[string]bool) (dups int) {
	errs := 0
	fail := func(format string, args ...any) {
		if errs++; errs <= 10 {
			errorf(format, args...)
		}
	}
	index := map[string]map[string]int{} // shard -> "seq data" -> position
	for sh, rs := range tr.records {
		index[sh] = map[string]int{}
		for i, r := range rs {
			index[sh][r] = i
		}
	}
	seqPos := func(sh, seq string) int { // position of the record with seq, -1 if sentinel
		for i, r := range tr.records[sh] {
			if strings.HasPrefix(r, seq+" ") {
				return i
			}
		}
		return -2
	}
	// 1. Every record processed.
	done := map[string]int{}
	for _, s := range pl.stints {
		for _, r := range s.records {
			done[s.shard+" "+r]++
		}
	}
	for sh, rs := range tr.records {
		for _, r := range rs {
			if done[sh+" "+r] == 0 {
				fail("shard %s: record %s never processed", sh, r)
			}
		}
	}
	// 2. Each stint contiguous from its checkpoint.
	for _, s := range pl.stints {
		first := 0
		switch s.start {
		case TrimHorizon:
		case Latest, ShardEnd:
			first = -1 // not checked
		default:
			first = seqPos(s.shard, s.start) + 1
			if first < 0 {
				fail("%s on %s (line %d) started at %s, not a record of the shard", s.worker, s.shard, s.line, s.start)
				continue
			}
		}
		for i, r := range s.records {
			pos, ok := index[s.shard][r]
			if !ok {
				fail("%s on %s: processed %q, not in the shard", s.worker, s.shard, r)
				break
			}
			if first >= 0 && pos != first+i {
				fail("%s on %s (line %d): record %d of its run is %s (position %d), want position %d: order or contiguity broken", s.worker, s.shard, s.line, i, r, pos, first+i)
				break
			}
		}
	}
	// 3. Never past a checkpoint; 5. children after parents' end.
	maxCP := map[string]int{}
	ended := map[string]bool{}
	for i, f := range pl.lines {
		switch f[0] {
		case "C":
			if f[3] == ShardEnd {
				continue
			}
			if p := seqPos(f[2], f[3]); p > maxCP[f[2]]-1 {
				maxCP[f[2]] = p + 1
			}
		case "E":
			ended[f[2]] = true
		case "P":
			sh := f[2]
			pos := index[sh][f[3]+" "+f[4]]
			if pos < maxCP[sh] {
				fail("line %d: %s processed %s of %s at or before a checkpoint already written (position %d < %d)", i+1, f[1], f[3], sh, pos, maxCP[sh])
			}
			for _, p := range tr.parents[sh] {
				if _, known := tr.records[p]; known && !ended[p] {
					fail("line %d: %s processed child %s before its parent %s ended", i+1, f[1], sh, p)
				}
			}
		}
	}
	// 4. Duplicates only after a lost lease (or a kill).
	firstBy := map[string]*stint{}
	for _, s := range pl.stints {
		for _, r := range s.records {
			k := s.shard + " " + r
			if prev := firstBy[k]; prev == nil {
				firstBy[k] = s
			} else if prev != s {
				dups++
				switch {
				case prev.end == "L" || prev.lostCheckpoint:
				case prev.end == "" && killed[prev.worker]:
				default:
					fail("record %s of %s processed again by %s (line %d) though %s's processing (line %d) did not lose its lease (it ended with %q)", r, s.shard, s.worker, s.line, prev.worker, prev.line, prev.end)
				}
			} else {
				fail("record %s of %s processed twice by one processor", r, s.shard)
			}
		}
	}
	// 6. Each key's first processings in order.
	next := map[string]int{}
	seen := map[string]bool{}
	for _, f := range pl.lines {
		if f[0] != "P" || seen[f[2]+" "+f[3]] {
			continue
		}
		seen[f[2]+" "+f[3]] = true
		k, n, _ := strings.Cut(f[4], "/")
		v, err := strconv.Atoi(n)
		if err != nil {
			fail("record data %q", f[4])
			continue
		}
		if v != next[k] {
			fail("key %s: record %d processed where %d was due", k, v, next[k])
		}
		next[k] = v + 1
	}
	return dups
}

// leaseOwners sums up a lease table: owner -> shards, and the finished.
func leaseOwners(ls []Lease) string {
	m := map[string][]string{}
	for _, l := range ls {
		o := l.Owner
		if l.Finished() {
			o = "(ended)"
		} else if o == "" {
			o = "(free)"
		}
		m[o] = append(m[o], strings.TrimPrefix(l.ShardID, "shardId-0000000000"))
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "%s:%v ", k, m[k])
	}
	return b.String()
}
