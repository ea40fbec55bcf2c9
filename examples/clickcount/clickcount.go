// Package clickcount is Sluice's main example job: it counts clicks per
// user in one-minute event-time windows, on the built-in log.
//
// Click events come from a generator (deterministic, with out-of-order
// event times) and are put, as JSON with the user as partition key, into a
// stream of an embedded shardlog.Log by a small producer job (datagen into
// the shardlog sink). The counting job reads that stream with the shardlog
// source, one split per shard, taking event time from each click's own
// timestamp; it keys the clicks by user, counts them in keyed state with
// event-time timers, and writes the per-window counts as JSON lines into a
// local directory with the exactly-once file sink, committed at every
// checkpoint. Run it with `go run ./cmd/sluice demo`.
//
// A bounded run (Options.Events > 0) puts every click first and then counts
// what the stream holds, ending with the final windows. An unbounded run
// produces and counts at the same time until its context ends; the counts
// of every completed checkpoint are in the output directory.
package clickcount

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// Click is one click of a user on a page.
type Click struct {
	User string `json:"user"`
	Page string `json:"page"`
	Time int64  `json:"time"` // event time, ms since the epoch
}

// Count is the number of clicks of a user in a window.
type Count struct {
	User        string `json:"user"`
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
	Clicks      int64  `json:"clicks"`
}

// Stream is the name of the log stream the clicks go through.
const Stream = "clicks"

// Options configure the job.
type Options struct {
	Events      int64         // clicks to generate; 0: unbounded
	Rate        float64       // clicks per second; 0: as fast as possible
	Users       int           // distinct users; default 200
	Window      time.Duration // default one minute
	Lateness    time.Duration // out-of-orderness of the events; default 5s
	Start       time.Time     // event time of the first click; default 2026-01-01
	Parallelism int           // of the counting job; default 2
	OutDir      string        // default "out"
	// LogDir is the embedded log's data directory. Default: a new
	// temporary directory, removed when Run returns. The stream Stream in
	// it is created afresh (deleted first if it exists).
	LogDir string
	// Shards is the number of shards of the stream. Default 4.
	Shards int
	// CheckpointInterval is the counting job's checkpoint interval; the
	// output is committed at every checkpoint. Default 1s.
	CheckpointInterval time.Duration
}

func (o *Options) defaults() {
	if o.Users == 0 {
		o.Users = 200
	}
	if o.Window == 0 {
		o.Window = time.Minute
	}
	if o.Lateness == 0 {
		o.Lateness = 5 * time.Second
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Parallelism == 0 {
		o.Parallelism = 2
	}
	if o.OutDir == "" {
		o.OutDir = "out"
	}
	if o.Shards == 0 {
		o.Shards = 4
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = time.Second
	}
}

// Gen returns click i: a hundred clicks per second of event time, each up to
// lateness late.
func Gen(o Options) func(i int64) Click {
	start := o.Start.UnixMilli()
	late := o.Lateness.Milliseconds()
	users := uint64(o.Users)
	return func(i int64) Click {
		x := mix(uint64(i))
		return Click{
			User: fmt.Sprintf("user-%04d", x%users),
			Page: fmt.Sprintf("/page/%d", (x>>20)%50),
			Time: start + i*10 - int64((x>>40)%uint64(late+1)),
		}
	}
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// AppendJSON appends c as a JSON object, the clicks' format in the log.
func AppendJSON(b []byte, c Click) []byte {
	b = append(b, `{"user":`...)
	b = appendJSONString(b, c.User)
	b = append(b, `,"page":`...)
	b = appendJSONString(b, c.Page)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, c.Time, 10)
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// DecodeJSON decodes a click as AppendJSON writes it, and any other JSON
// object of the same fields.
func DecodeJSON(b []byte) (Click, error) {
	if c, ok := decodeFast(b); ok {
		return c, nil
	}
	var c Click
	if err := json.Unmarshal(b, &c); err != nil {
		return Click{}, fmt.Errorf("clickcount: bad click %q: %w", b, err)
	}
	return c, nil
}

// decodeFast parses exactly AppendJSON's layout with unescaped strings.
func decodeFast(b []byte) (Click, bool) {
	var c Click
	rest, ok := cutPrefix(b, `{"user":"`)
	if !ok {
		return c, false
	}
	c.User, rest, ok = cutString(rest)
	if !ok {
		return c, false
	}
	if rest, ok = cutPrefix(rest, `,"page":"`); !ok {
		return c, false
	}
	if c.Page, rest, ok = cutString(rest); !ok {
		return c, false
	}
	if rest, ok = cutPrefix(rest, `,"time":`); !ok || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return c, false
	}
	t, err := strconv.ParseInt(string(rest[:len(rest)-1]), 10, 64)
	if err != nil {
		return c, false
	}
	c.Time = t
	return c, true
}

func cutPrefix(b []byte, p string) ([]byte, bool) {
	if len(b) < len(p) || string(b[:len(p)]) != p {
		return b, false
	}
	return b[len(p):], true
}

// cutString returns the string up to the closing quote; it refuses escapes.
func cutString(b []byte) (string, []byte, bool) {
	for i, c := range b {
		switch {
		case c == '"':
			return string(b[:i]), b[i+1:], true
		case c == '\\' || c < 0x20:
			return "", b, false
		}
	}
	return "", b, false
}

// Build adds the click-count pipeline to j, reading clicks from src.
func Build(j *engine.Job, src *engine.Stream[Click], o Options) *engine.Stream[Count] {
	o.defaults()
	byUser := engine.KeyBy(src, func(c Click) string { return c.User })
	return engine.KeyedProcess(byUser, "count-per-window", engine.KeyedProcessFunction[string, Click, Count](&windowCount{size: o.Window.Milliseconds()}))
}

// Progress is what Run reports about once a second.
type Progress struct {
	Phase   string        // "put" (bounded: producing), "count", or "live" (unbounded: both)
	Elapsed time.Duration // since Run started
	Put     int64         // clicks acknowledged by the log
	Read    int64         // clicks the counting job read from the log
	Counts  int64         // window counts written
	Late    int64         // clicks that arrived after their window fired
	// Watermark is how far event time has progressed through the counting
	// job (engine.MinTime before it starts, engine.MaxTime at its end).
	Watermark int64
}

// validate refuses options that mean nothing. Zero means the default for
// every field but Events and Rate, where it means unbounded and as fast as
// possible.
func (o *Options) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"Events", o.Events < 0}, {"Rate", !(o.Rate >= 0) || math.IsInf(o.Rate, 1)}, {"Users", o.Users < 0},
		{"Window", o.Window < 0}, {"Lateness", o.Lateness < 0}, {"Parallelism", o.Parallelism < 0},
		{"Shards", o.Shards < 0}, {"CheckpointInterval", o.CheckpointInterval < 0},
	} {
		if f.bad {
			errs = append(errs, fmt.Errorf("clickcount: %s must not be negative (or NaN/infinite)", f.name))
		}
	}
	return errors.Join(errs...)
}

// genFor is Gen; tests replace it to make the producer fail.
var genFor = Gen

// Run puts o.Events generated clicks into the log and counts them (or, with
// o.Events 0, does both until ctx is done), writing counts under o.OutDir.
// progress, if not nil, is called about once a second and at the end. It
// blocks until both jobs have ended: a failure of either ends the other and
// is returned; with o.Events 0, the end of ctx is a normal end (nil).
func Run(ctx context.Context, o Options, progress func(Progress)) error {
	if err := o.validate(); err != nil {
		return err
	}
	o.defaults()
	began := time.Now()
	// A bad output directory fails here, not in the counting job's
	// restarts.
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return fmt.Errorf("clickcount: output directory: %w", err)
	}
	logDir := o.LogDir
	if logDir == "" {
		d, err := os.MkdirTemp("", "sluice-clickcount-log-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		logDir = d
	}
	ckptDir, err := os.MkdirTemp("", "sluice-clickcount-checkpoints-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ckptDir)
	// The demo's clicks can be generated again: acknowledging puts once
	// written to the OS (not fsynced) is enough, and keeps the put phase
	// short.
	l, err := shardlog.Open(shardlog.Options{Dir: logDir, Sync: shardlog.SyncNone})
	if err != nil {
		return err
	}
	defer l.Close()
	ref := shardlog.StreamRef{Name: Stream}
	if err := l.DeleteStream(ref, true); err != nil && !errors.Is(err, shardlog.ErrResourceNotFound) {
		return err
	}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: Stream, ShardCount: o.Shards}); err != nil {
		return err
	}

	// The producer: generated clicks, keyed by user, into the stream. One
	// subtask puts them in generation order, so each shard holds its
	// clicks at most o.Lateness out of event-time order.
	sink, err := shardconn.NewSink(l, shardconn.SinkOptions{Stream: ref}, func(c Click, buf []byte) (shardlog.PutEntry, error) {
		return shardlog.PutEntry{PartitionKey: c.User, Data: AppendJSON(buf, c)}, nil
	})
	if err != nil {
		return err
	}
	pj := engine.NewJob("clickcount-producer", engine.Config{Parallelism: 1})
	engine.SinkTo(engine.SourceOf(pj, "generate", datagen.Source(datagen.Options{Count: o.Events, RatePerSecond: o.Rate}, genFor(o)), engine.NoWatermarks[Click]()), "put", sink)

	// The counting job.
	src, err := shardconn.NewDecodingSource(l, shardconn.SourceOptions{Stream: ref, Bounded: o.Events > 0, Checkpointed: true},
		func(r *shardlog.Record) (Click, error) { return DecodeJSON(r.Data) })
	if err != nil {
		return err
	}
	cj := engine.NewJob("clickcount", engine.Config{Parallelism: o.Parallelism,
		Checkpoint: engine.CheckpointConfig{Interval: o.CheckpointInterval, Dir: ckptDir}})
	ws := engine.BoundedOutOfOrderness(o.Lateness, func(c Click) int64 { return c.Time })
	clicks := shardconn.SourceOfDecoded(cj, "clicks", src, ws)
	engine.SinkTo(Build(cj, clicks, o), "out", file.JSONLines[Count](o.OutDir))

	var mu sync.Mutex
	var counting *engine.Running
	report := func(phase string) {
		if progress == nil {
			return
		}
		p := Progress{Phase: phase, Elapsed: time.Since(began), Put: sink.Stats().Records, Watermark: engine.MinTime}
		mu.Lock()
		r := counting
		mu.Unlock()
		if r != nil {
			m := r.Metrics()
			for _, om := range m.Operators {
				if om.IsSource {
					p.Read += om.RecordsOut
				}
				if om.IsSink {
					p.Counts += om.RecordsIn
				}
				p.Late += om.Counters[LateCounter]
			}
			p.Watermark = m.Watermark
		}
		progress(p)
	}
	wait := func(phase string, r *engine.Running) error {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-r.Done():
				report(phase)
				return r.Wait()
			case <-tick.C:
				report(phase)
			}
		}
	}

	if o.Events > 0 {
		pr, err := pj.Start(ctx)
		if err != nil {
			return err
		}
		if err := wait("put", pr); err != nil {
			return fmt.Errorf("clickcount: producer: %w", err)
		}
		cr, err := cj.Start(ctx)
		if err != nil {
			return err
		}
		mu.Lock()
		counting = cr
		mu.Unlock()
		return wait("count", cr)
	}

	// Unbounded: produce and count at once until ctx ends. Both jobs run
	// under jctx, and whichever ends first cancels it with its error as
	// the cause, which ends the other. (A context, not Running.Cancel: the
	// engine drops a Cancel that comes before a job's first attempt is
	// wired, as it does when the producer fails at once.)
	jctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	errProducerEnded := errors.New("clickcount: producer: ended, though unbounded")
	pr, err := pj.Start(jctx)
	if err != nil {
		return err
	}
	cr, err := cj.Start(jctx)
	if err != nil {
		stop(err)
		pr.Wait()
		return err
	}
	mu.Lock()
	counting = cr
	mu.Unlock()
	watched := make(chan struct{})
	go func() {
		// Owned by Run, which waits for it: it ends with the producer,
		// which ends by the time jctx is cancelled.
		defer close(watched)
		perr := pr.Wait()
		switch {
		case perr == nil:
			stop(errProducerEnded)
		case errors.Is(perr, engine.ErrJobCancelled):
			stop(perr) // no-op if jctx was cancelled already
		default:
			stop(fmt.Errorf("clickcount: producer: %w", perr))
		}
	}()
	err = wait("live", cr)
	if err == nil {
		err = errors.New("clickcount: counting job: ended, though unbounded")
	}
	stop(err) // a no-op if the producer's end cancelled the counting job
	<-watched
	cause := context.Cause(jctx)
	switch {
	case ctx.Err() != nil && context.Cause(ctx) == cause:
		return nil // interrupted, as asked
	case errors.Is(err, engine.ErrJobCancelled):
		return cause // the producer's end, which cancelled the counting job
	default:
		return err
	}
}

// OutputFiles returns the committed count files in dir.
func OutputFiles(dir string) ([]string, error) {
	return filepath.Glob(filepath.Join(dir, "part-*.jsonl"))
}

// windowCount counts a user's clicks per tumbling window in keyed state; an
// event-time timer at the window's end emits the count.
type windowCount struct {
	size   int64
	counts *state.MapState[int64, int64] // window end -> clicks
	late   *engine.Counter
}

func (w *windowCount) Open(rc *engine.RuntimeContext) error {
	var err error
	w.counts, err = engine.GetMapState[int64, int64](rc, "counts")
	return err
}

// LateCounter is the name of the counter of clicks that arrived after their
// window had fired (see engine.Metrics).
const LateCounter = "late-clicks"

func (w *windowCount) ProcessElement(c Click, ctx *engine.KeyedContext[string, Count]) error {
	end := c.Time - mod(c.Time, w.size) + w.size - 1
	if end <= ctx.CurrentWatermark() {
		// Later than the allowed out-of-orderness: counted, not lost
		// silently.
		if w.late == nil {
			w.late = ctx.Operator().Counter(LateCounter)
		}
		w.late.Inc()
		return nil
	}
	n, _, err := w.counts.Get(end)
	if err != nil {
		return err
	}
	if err := w.counts.Put(end, n+1); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(end)
}

func (w *windowCount) OnTimer(ts int64, ctx *engine.KeyedContext[string, Count]) error {
	n, _, err := w.counts.Get(ts)
	if err != nil {
		return err
	}
	ctx.Emit(Count{
		User:        ctx.CurrentKey(),
		WindowStart: time.UnixMilli(ts - w.size + 1).UTC().Format(time.RFC3339),
		WindowEnd:   time.UnixMilli(ts + 1).UTC().Format(time.RFC3339),
		Clicks:      n,
	})
	return w.counts.Remove(ts)
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
