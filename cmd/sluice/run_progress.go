package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// progressLine formats `sluice run`'s progress line from two snapshots of the
// job's metrics taken dt apart: for each source and sink table its records
// and rate per second, its watermark and how far it is behind now (the
// lag), the errors its operators counted, for a source the share of the
// interval it was backpressured (from 1%), and the last checkpoint.
// Sources and sinks are the job's operators named after their tables; a
// source's errors include the error counters of the operators it is
// followed by under its name ("<table>/decode": records that did not
// decode, sent to the table's error output).
func progressLine(prev, cur engine.Metrics, dt time.Duration, ckpt engine.CheckpointStats, now time.Time) string {
	before := map[string]engine.OperatorMetrics{}
	for _, om := range prev.Operators {
		before[om.Name] = om
	}
	inner := map[string]int64{} // source name -> error counters of its own operators
	for _, om := range cur.Operators {
		if om.IsSource || om.IsSink {
			continue
		}
		if src, _, ok := strings.Cut(om.Name, "/"); ok {
			for k, v := range om.Counters {
				if isErrorName(k) {
					inner[src] += v
				}
			}
		}
	}
	var parts []string
	for _, om := range cur.Operators {
		if !om.IsSource && !om.IsSink {
			continue
		}
		n, role := om.RecordsOut, "out"
		if om.IsSink {
			n, role = om.RecordsIn, "in"
		}
		p := before[om.Name]
		pn := p.RecordsOut
		if om.IsSink {
			pn = p.RecordsIn
		}
		rate := 0.0
		if dt > 0 {
			rate = float64(n-pn) / dt.Seconds()
		}
		s := fmt.Sprintf("%s: %d %s (%.0f/s)", om.Name, n, role, rate)
		s += ", watermark " + watermarkLag(om.Watermark, now)
		bad := errorCount(om)
		if om.IsSource {
			bad += inner[om.Name]
		}
		if bad > 0 {
			s += fmt.Sprintf(", %d errors", bad)
		}
		if om.IsSource && dt > 0 && om.Parallelism > 0 {
			// The share of the interval the source's chain spent blocked
			// on full channels: downstream does not keep up.
			share := float64(om.Backpressured-p.Backpressured) / float64(dt) / float64(om.Parallelism)
			if share >= 0.01 {
				s += fmt.Sprintf(", backpressured %.0f%%", min(share, 1)*100)
			}
		}
		parts = append(parts, s)
	}
	if ckpt.ID > 0 {
		parts = append(parts, fmt.Sprintf("checkpoint %d (took %v)", ckpt.ID, ckpt.Duration.Round(time.Millisecond)))
	} else {
		parts = append(parts, "no checkpoint yet")
	}
	return strings.Join(parts, "; ")
}

// watermarkLag is an operator's watermark as demo prints it, with how far
// it is behind now.
func watermarkLag(wm int64, now time.Time) string {
	s := watermarkText(wm)
	if wm > engine.MinTime && wm < engine.MaxTime {
		s += fmt.Sprintf(" (lag %v)", now.Sub(time.UnixMilli(wm)).Round(time.Second))
	}
	return s
}

// errorCount sums an operator's side outputs and counters that carry
// errors, late or dropped records (by name: "errors", "late-data", ...).
func errorCount(om engine.OperatorMetrics) int64 {
	var n int64
	for _, m := range []map[string]int64{om.SideOutputs, om.Counters} {
		for k, v := range m {
			if isErrorName(k) {
				n += v
			}
		}
	}
	return n
}

func isErrorName(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "error") || strings.Contains(k, "late") || strings.Contains(k, "drop") || strings.Contains(k, "bad")
}
