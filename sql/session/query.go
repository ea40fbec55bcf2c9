package session

import (
	"context"
	"slices"
	"sync"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/sql/row"
)

// Query is a running SELECT: a job whose rows are applied, as a changelog,
// to a result table (+I and +U add a row, -U and -D remove an equal one),
// as the table mode of Flink's SQL client shows it.
type Query struct {
	*Job
	Columns []string

	mu      sync.Mutex
	rows    [][]string
	max     int
	version int64
	changed chan struct{} // closed and replaced on every change
	dropped int64         // rows dropped past max
}

func (s *Session) startQuery(prog *planner.Program, text string) (*Query, error) {
	l := prog.Result()
	q := &Query{max: s.o.MaxResultRows, changed: make(chan struct{})}
	for i := 0; i < l.Len(); i++ {
		q.Columns = append(q.Columns, l.Name(i))
	}
	job, err := s.startJob(prog, text, JobOptions{SinkTo: func(table string) engine.Sink[*row.Row] {
		if table == planner.ResultTable {
			return resultSink{q}
		}
		return nil
	}})
	if err != nil {
		return nil, err
	}
	q.Job = job
	return q, nil
}

// Snapshot is the result table now and its version (which grows with
// every change).
func (q *Query) Snapshot() (rows [][]string, version int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.rows), q.version
}

// Changed is closed at the next change of the result table.
func (q *Query) Changed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.changed
}

// apply applies one changelog row.
func (q *Query) apply(r *row.Row) {
	fields := make([]string, r.Len())
	for i := range fields {
		fields[i] = string(row.AppendJava(nil, r.L.Type(i), r.Get(i)))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.Kind.IsRetract() {
		i := slices.IndexFunc(q.rows, func(have []string) bool { return slices.Equal(have, fields) })
		if i < 0 {
			return // retracts a row dropped past max
		}
		q.rows = slices.Delete(q.rows, i, i+1)
	} else {
		q.rows = append(q.rows, fields)
		if len(q.rows) > q.max {
			n := len(q.rows) - q.max
			q.rows = slices.Delete(q.rows, 0, n)
			q.dropped += int64(n)
		}
	}
	q.version++
	close(q.changed)
	q.changed = make(chan struct{})
}

// resultSink is the engine sink of a query's rows.
type resultSink struct{ q *Query }

func (s resultSink) Open(context.Context, engine.SinkInfo) (engine.SinkWriter[*row.Row], error) {
	return resultWriter(s), nil
}

type resultWriter struct{ q *Query }

func (w resultWriter) Write(batch []engine.Record[*row.Row]) error {
	for _, rec := range batch {
		w.q.apply(rec.Value)
	}
	return nil
}

func (resultWriter) Close() error { return nil }
