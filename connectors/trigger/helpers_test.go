package trigger

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

func openLog(t testing.TB, dir string, opts shardlog.Options) *shardlog.Log {
	t.Helper()
	opts.Dir = dir
	opts.RetentionInterval = -1
	opts.Sync = shardlog.SyncNone
	l, err := shardlog.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fillStream creates stream with shards shards and puts n records (data:
// the record's number; partition key: one of keys), resharding to twice
// the shards after half of them, so that the trigger meets parents and
// children.
func fillStream(t testing.TB, l *shardlog.Log, stream string, shards, n, keys int) {
	t.Helper()
	ref := shardlog.StreamRef{Name: stream}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: stream, ShardCount: shards}); err != nil {
		t.Fatal(err)
	}
	put := func(from, to int) {
		var es []shardlog.PutEntry
		for i := from; i < to; i++ {
			es = append(es, shardlog.PutEntry{PartitionKey: "k" + strconv.Itoa(i%keys), Data: []byte(strconv.Itoa(i))})
			if len(es) == 100 || i == to-1 {
				res, err := l.PutRecords(context.Background(), ref, es, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range res {
					if r.Err != nil {
						t.Fatal(r.Err)
					}
				}
				es = es[:0]
			}
		}
	}
	put(0, n/2)
	if _, err := l.UpdateShardCount(ref, 2*shards, "UNIFORM_SCALING"); err != nil {
		t.Fatal(err)
	}
	put(n/2, n)
}

// world is what a stream holds, read back: every record's shard and
// partition key, each shard's records in order, each shard's parents.
type world struct {
	shardOf map[string]string // seq -> shard
	keyOf   map[string]string // seq -> partition key
	numOf   map[string]int    // seq -> record number
	order   map[string][]string
	parents map[string][]string
}

func readWorld(t testing.TB, l *shardlog.Log, stream string) *world {
	t.Helper()
	ref := shardlog.StreamRef{Name: stream}
	w := &world{shardOf: map[string]string{}, keyOf: map[string]string{}, numOf: map[string]int{}, order: map[string][]string{}, parents: map[string][]string{}}
	lin, err := l.Lineage(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range lin.Shards {
		for _, p := range sh.Parents {
			w.parents[sh.ID] = append(w.parents[sh.ID], shardlog.ShardID(p))
		}
		r, err := l.NewShardReader(ref, sh.ID, shardlog.StartPosition{Type: shardlog.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for {
			res, err := r.Read(context.Background(), 0, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range res.Records {
				s := rec.SequenceNumber.String()
				n, err := strconv.Atoi(string(rec.Data))
				if err != nil {
					t.Fatal(err)
				}
				w.shardOf[s], w.keyOf[s], w.numOf[s] = sh.ID, string(rec.PartitionKey), n
				w.order[sh.ID] = append(w.order[sh.ID], s)
			}
			if res.ShardEnded || len(res.Records) == 0 {
				break
			}
		}
	}
	return w
}

// checker follows what happens to each record — processed by the function
// or given to the on-failure destination — and checks, as it happens, that
// no record is processed before every earlier record of its shard (of its
// shard and partition key, byKey) and every record of its shard's parents
// is processed or given up.
type checker struct {
	w     *world
	byKey bool

	mu        sync.Mutex
	chains    map[string][]string // chain -> seqs in order
	index     map[string]int      // seq -> place in its chain
	prefix    map[string]int      // chain -> how many of its first records are settled
	settled   map[string]bool
	processed map[string]int
	failed    map[string]int
	parentsOK map[string]bool
	err       error
}

func newChecker(w *world, byKey bool) *checker {
	c := &checker{w: w, byKey: byKey, chains: map[string][]string{}, index: map[string]int{}, prefix: map[string]int{},
		settled: map[string]bool{}, processed: map[string]int{}, failed: map[string]int{}, parentsOK: map[string]bool{}}
	for sh, seqs := range w.order {
		for _, s := range seqs {
			ch := c.chain(s)
			c.index[s] = len(c.chains[ch])
			c.chains[ch] = append(c.chains[ch], s)
		}
		_ = sh
	}
	return c
}

func (c *checker) chain(seq string) string {
	if c.byKey {
		return c.w.shardOf[seq] + "|" + c.w.keyOf[seq]
	}
	return c.w.shardOf[seq]
}

func (c *checker) settledUpTo(ch string) int {
	p := c.prefix[ch]
	for p < len(c.chains[ch]) && c.settled[c.chains[ch][p]] {
		p++
	}
	c.prefix[ch] = p
	return p
}

func (c *checker) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

// process records that the function processed seq.
func (c *checker) process(seq string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sh, ok := c.w.shardOf[seq]
	if !ok {
		c.fail("processed %s, which the stream does not hold", seq)
		return
	}
	c.processed[seq]++
	if c.processed[seq] > 1 || c.failed[seq] > 0 {
		return // a redelivery: its first delivery was checked
	}
	ch := c.chain(seq)
	if p := c.settledUpTo(ch); p < c.index[seq] {
		c.fail("record %d (%s of %s) processed before record %d, earlier in its shard, was processed or given up", c.w.numOf[seq], seq, sh, c.w.numOf[c.chains[ch][p]])
	}
	if !c.parentsOK[sh] {
		for _, p := range c.w.parents[sh] {
			for _, ps := range c.w.order[p] {
				if !c.settled[ps] {
					c.fail("record %d of %s processed before record %d of its parent %s was done", c.w.numOf[seq], sh, c.w.numOf[ps], p)
					return
				}
			}
		}
		c.parentsOK[sh] = true
	}
	c.settled[seq] = true
}

// giveUp records that seq went to the on-failure destination.
func (c *checker) giveUp(seq string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.w.shardOf[seq]; !ok {
		c.fail("gave up %s, which the stream does not hold", seq)
		return
	}
	c.failed[seq]++
	c.settled[seq] = true
}

// finish checks that every record was processed or given up.
func (c *checker) finish(t testing.TB, seed uint64) (processed, failed int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		t.Fatalf("seed %d: %v", seed, c.err)
	}
	for s := range c.w.shardOf {
		switch {
		case c.processed[s] > 0:
			processed++
		case c.failed[s] > 0:
			failed++
		default:
			t.Fatalf("seed %d: record %d (%s of %s) was neither processed nor given to the on-failure destination", seed, c.w.numOf[s], s, c.w.shardOf[s])
		}
	}
	return processed, failed
}

// lambdaEvent is the part of an event the test function reads.
type lambdaEvent struct {
	Records []struct {
		Kinesis struct {
			SchemaVersion  string  `json:"kinesisSchemaVersion"`
			PartitionKey   string  `json:"partitionKey"`
			SequenceNumber string  `json:"sequenceNumber"`
			Data           string  `json:"data"`
			Arrival        float64 `json:"approximateArrivalTimestamp"`
		} `json:"kinesis"`
		EventSource    string `json:"eventSource"`
		EventVersion   string `json:"eventVersion"`
		EventID        string `json:"eventID"`
		EventName      string `json:"eventName"`
		EventSourceARN string `json:"eventSourceARN"`
		AWSRegion      string `json:"awsRegion"`
	} `json:"Records"`
}

// flaky is a function that fails at random (from its seed): a whole batch
// with a 500 now and then, a partial batch response at a random record now
// and then (with partial on), and always at a poison record (a record
// number divisible by poison), so that only bisecting and giving up get
// past it. It tells processed of each record it processes.
type flaky struct {
	mu        sync.Mutex
	rng       *rand.Rand
	partial   bool
	never     bool // never fail at random
	poison    int
	processed func(seq string)
	before    func() // called at the start of each invocation (a kill point)
	after     func() // called once the records are processed, before the answer (a kill point)
	bad       error
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.before != nil {
		f.before()
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var ev lambdaEvent
	if err := json.Unmarshal(body, &ev); err != nil || len(ev.Records) == 0 {
		f.setBad(fmt.Errorf("bad event %v: %.200s", err, body))
		http.Error(w, "bad event", 400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.never && f.rng.Float64() < 0.15 {
		http.Error(w, "random failure", 500)
		return
	}
	fail := len(ev.Records)
	if f.partial && !f.never && f.rng.Float64() < 0.2 {
		fail = f.rng.IntN(len(ev.Records))
	}
	for i, rec := range ev.Records {
		k := &rec.Kinesis
		if rec.EventSource != "aws:kinesis" || rec.EventName != "aws:kinesis:record" || rec.EventVersion != "1.0" || k.SchemaVersion != "1.0" || !strings.HasSuffix(rec.EventID, ":"+k.SequenceNumber) || !strings.HasPrefix(rec.EventID, "shardId-") {
			f.setBad(fmt.Errorf("bad record %+v", rec))
		}
		data, err := base64.StdEncoding.DecodeString(k.Data)
		n, err2 := strconv.Atoi(string(data))
		if err != nil || err2 != nil {
			f.setBad(fmt.Errorf("bad data %q", k.Data))
		}
		if n%f.poison == 0 {
			fail = min(fail, i)
		}
	}
	for i := 0; i < fail; i++ {
		f.processed(ev.Records[i].Kinesis.SequenceNumber)
	}
	if f.after != nil {
		f.after()
	}
	if fail == len(ev.Records) {
		w.Write([]byte(`{"batchItemFailures":[]}`))
		return
	}
	if !f.partial {
		http.Error(w, "poison record", 500)
		return
	}
	items := []string{`{"itemIdentifier":"` + ev.Records[fail].Kinesis.SequenceNumber + `"}`}
	if j := len(ev.Records) - 1; j > fail {
		items = append(items, `{"itemIdentifier":"`+ev.Records[j].Kinesis.SequenceNumber+`"}`)
	}
	w.Write([]byte(`{"batchItemFailures":[` + strings.Join(items, ",") + `]}`))
}

func (f *flaky) setBad(err error) {
	if f.bad == nil {
		f.bad = err
	}
}

// recordingDestination hands each on-failure record to a real destination
// and then tells gaveUp of each record it covers.
type recordingDestination struct {
	next   Destination
	gaveUp func(seq string)
	before func()
}

func (d *recordingDestination) Send(ctx context.Context, rec *FailureRecord, recs []Record) error {
	if d.before != nil {
		d.before()
	}
	if err := d.next.Send(ctx, rec, recs); err != nil {
		return err
	}
	for _, r := range recs {
		d.gaveUp(r.SequenceNumber)
	}
	return nil
}

// fastRetry keeps tests from waiting between retries.
var fastRetry = DefaultRetry

func init() {
	fastRetry.Initial, fastRetry.Max = time.Microsecond, time.Microsecond
}

// runUntilCaughtUp runs tr until it has done every record of its stream,
// failing t after timeout.
func runUntilCaughtUp(t testing.TB, tr *Trigger, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := tr.Changed()
		ok, err := tr.CaughtUp()
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		if ok {
			break
		}
		select {
		case <-ch:
		case err := <-done:
			cancel()
			t.Fatalf("trigger stopped: %v", err)
		case <-deadline.C:
			cancel()
			<-done
			t.Fatalf("not caught up after %v: positions %v, stats %+v", timeout, tr.Positions(), tr.Stats())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// within waits for ch, failing t (rather than hanging) if nothing comes
// within a minute: a guard against a broken trigger, not a timing check.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	g := time.NewTimer(time.Minute)
	defer g.Stop()
	select {
	case v := <-ch:
		return v
	case <-g.C:
		t.Fatalf("no %s within a minute", what)
		panic("unreachable")
	}
}
