// Package clickcount is Sluice's main example job: it counts clicks per
// user in one-minute event-time windows.
//
// Click events come from a generator (deterministic, with out-of-order
// arrival), are keyed by user, counted in keyed state with event-time timers,
// and the per-window counts land as JSON lines in a local directory. Run it
// with `go run ./cmd/sluice demo`.
package clickcount

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/connectors/file"
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

// Options configure the job.
type Options struct {
	Events      int64         // clicks to generate; 0: unbounded
	Rate        float64       // clicks per second; 0: as fast as possible
	Users       int           // distinct users; default 200
	Window      time.Duration // default one minute
	Lateness    time.Duration // out-of-orderness of the events; default 5s
	Start       time.Time     // event time of the first click; default 2026-01-01
	Parallelism int           // default 2
	OutDir      string        // default "out"
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

// Build adds the click-count pipeline to j, reading clicks from src.
func Build(j *engine.Job, src *engine.Stream[Click], o Options) *engine.Stream[Count] {
	o.defaults()
	byUser := engine.KeyBy(src, func(c Click) string { return c.User })
	return engine.KeyedProcess(byUser, "count-per-window", engine.KeyedProcessFunction[string, Click, Count](&windowCount{size: o.Window.Milliseconds()}))
}

// Run runs the job to the end of its input (or until ctx is done), writing
// counts under o.OutDir. progress, if not nil, is called about once a second
// with the job's metrics.
func Run(ctx context.Context, o Options, progress func(engine.Metrics)) error {
	o.defaults()
	j := engine.NewJob("clickcount", engine.Config{Parallelism: o.Parallelism})
	ws := engine.BoundedOutOfOrderness(o.Lateness, func(c Click) int64 { return c.Time })
	src := engine.SourceOf(j, "clicks", datagen.Source(datagen.Options{Count: o.Events, RatePerSecond: o.Rate}, Gen(o)), ws)
	counts := Build(j, src, o)
	engine.SinkTo(counts, "out", file.JSONLines[Count](o.OutDir))
	r, err := j.Start(ctx)
	if err != nil {
		return err
	}
	if progress == nil {
		return r.Wait()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Done():
			progress(r.Metrics())
			return r.Wait()
		case <-tick.C:
			progress(r.Metrics())
		}
	}
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
