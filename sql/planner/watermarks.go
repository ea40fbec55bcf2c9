package planner

import (
	"math"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/row"
)

// sourceWatermarks is the watermark strategy of a table source whose
// records are T: the rowtime column less the WATERMARK delay (a NULL
// rowtime is the smallest time), none without a WATERMARK, and the run's
// idle timeout. rowOf is the row a record carries; a record with none (one
// that did not decode, on its way to the error output) has no timestamp.
func sourceWatermarks[T any](ip *insertPlan, rowOf func(T) *row.Row) engine.WatermarkStrategy[T] {
	ws := engine.NoWatermarks[T]()
	if rt := ip.src.rowtime; rt >= 0 {
		ws = engine.BoundedOutOfOrderness(ip.src.delay, func(v T) int64 {
			r := rowOf(v)
			if r == nil {
				return engine.NoTimestamp
			}
			if r.IsNull(rt) {
				return math.MinInt64
			}
			return r.Timestamp(rt).Millis
		})
	}
	if ip.idle > 0 {
		ws = ws.WithIdleness(ip.idle)
	}
	return ws
}
