package nexmark

import (
	"context"
	"fmt"
	"time"

	nx "github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/engine"
)

// JobConfig is one run of a query.
type JobConfig struct {
	// Generator configures the events.
	Generator nx.Config
	// Events is how many events the source generates.
	Events int64
	// RatePerSecond limits the source's wall-clock rate (0: flat out).
	RatePerSecond float64
	// Engine is the job's configuration (parallelism, state backend,
	// checkpoints, restarts).
	Engine engine.Config
	// Inject, if set, is called for every event after the source; a
	// panic there is a task failure (failure injection in tests).
	Inject func()
}

// source adds the Nexmark source to j, with the benchmark's hook on each
// generated event when m is set.
func source(j *engine.Job, cfg JobConfig, m *meter) (*engine.Stream[nx.Event], error) {
	g, err := nx.NewGenerator(cfg.Generator)
	if err != nil {
		return nil, err
	}
	var src engine.Source[nx.Event]
	if m == nil {
		src = nx.Source(g, nx.Options{Events: cfg.Events, RatePerSecond: cfg.RatePerSecond})
	} else {
		perMs := max(g.Config().EventsPerSecond/1000, 1)
		src = nx.SourceFunc(func(n int64) nx.Event {
			if n%perMs == 0 {
				m.generated(g.Timestamp(n), time.Now().UnixNano())
			}
			return g.Event(n)
		}, nx.Options{Events: cfg.Events, RatePerSecond: cfg.RatePerSecond})
	}
	s := engine.SourceOf(j, "nexmark", src, nx.Watermarks())
	if cfg.Inject != nil {
		inject := cfg.Inject
		s = engine.Map(s, "inject-failures", func(e nx.Event) nx.Event { inject(); return e })
	}
	return s, nil
}

// Rows runs q over cfg's events and returns its committed output,
// materialised (upserts applied) and sorted, and the run's handle for its
// events.
func Rows(ctx context.Context, q Query, cfg JobConfig) ([]string, *engine.Running, error) {
	j := engine.NewJob("nexmark-"+q.Name, cfg.Engine)
	src, err := source(j, cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	o := &output{collect: true}
	q.build(src, o)
	r, err := j.Start(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("nexmark %s: %w", q.Name, err)
	}
	if err := r.Wait(); err != nil {
		return nil, r, fmt.Errorf("nexmark %s: %w", q.Name, err)
	}
	return o.rows(), r, nil
}

// Reference computes q's rows from cfg's events without the engine.
func Reference(q Query, cfg JobConfig) ([]string, error) {
	if q.reference == nil {
		return nil, fmt.Errorf("nexmark %s: no reference (its windows are in processing time)", q.Name)
	}
	g, err := nx.NewGenerator(cfg.Generator)
	if err != nil {
		return nil, err
	}
	events := make([]nx.Event, cfg.Events)
	for n := range events {
		events[n] = g.Event(int64(n))
	}
	return q.reference(events), nil
}
