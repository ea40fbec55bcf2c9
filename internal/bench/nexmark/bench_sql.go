package nexmark

import (
	"fmt"
	"sync/atomic"
	"time"

	nx "github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/sql/row"
)

// noSQL says why a query has no SQL form in the benchmark.
var noSQL = map[string]string{
	"q12": "PROCTIME() and processing-time windows are not in the SQL layer yet",
}

func hasSQL(name string) bool { _, no := noSQL[name]; return !no }

// buildSQL adds the SQL program p of query name to j, measured as the Go
// form is: the first row of each millisecond of event time read from the
// nexmark table records when it was generated, and the query's rows go to
// the meter's sink instead of the blackhole table.
func buildSQL(p *planner.Program, name string, j *engine.Job, g *nx.Generator, m *meter) error {
	o := planner.RunOptions{
		Tap: func(table string, s *engine.Stream[*row.Row]) *engine.Stream[*row.Row] {
			// The rowtime column (dateTime, after the physical columns)
			// is the event's time: record the wall time of each new
			// millisecond, as the Go form's source does.
			var last atomic.Int64 // shared by the subtasks: a hint only
			return engine.Map(s, table+"-meter", func(r *row.Row) *row.Row {
				if ts := r.Timestamp(dateTimeCol).Millis; ts != last.Load() {
					last.Store(ts)
					m.generatedNow(ts)
				}
				return r
			})
		},
		StreamTo: func(table string, s *engine.Stream[*row.Row]) bool {
			if table != sinkName(name) {
				return false
			}
			engine.SinkTo(s, "sink", &meterSink[*row.Row]{m: m})
			return true
		},
	}
	if err := p.Build(j, o); err != nil {
		return fmt.Errorf("nexmark %s (SQL): %w", name, err)
	}
	return nil
}

// dateTimeCol is the nexmark table's rowtime column: after event_type,
// person, auction and bid.
const dateTimeCol = 4

// withRatio adds the SQL form's figures relative to the Go form's (Go's
// in the same run, just before).
func withRatio(sql, goRes bench.Result) bench.Result {
	if goRes.RecordsPerSec > 0 {
		sql = sql.Set("sql_go_ratio", sql.RecordsPerSec/goRes.RecordsPerSec)
	}
	if goRes.RecordsPerCPUSec > 0 {
		sql = sql.Set("sql_go_ratio_per_core", sql.RecordsPerCPUSec/goRes.RecordsPerCPUSec)
	}
	return sql
}

// generatedNow records that event time ts was first generated now, unless
// it was recorded already.
func (m *meter) generatedNow(ts int64) {
	if i := ts - m.base; i >= 0 && i < int64(len(m.genWall)) && m.genWall[i].Load() == 0 {
		m.genWall[i].CompareAndSwap(0, time.Now().UnixNano())
	}
}
