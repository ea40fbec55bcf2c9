package service

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// jobCollector exposes the jobs' figures on /metrics, read at scrape time
// from the same computation as the REST API's (jobFigures), so the two
// agree.
type jobCollector struct{ s *Service }

var (
	jobLabels           = []string{"job_id", "job"}
	opLabels            = []string{"job_id", "job", "operator_id", "operator"}
	descJobUp           = prometheus.NewDesc("sluice_job_running", "1 for a job that is running, 0 otherwise; state is its state.", append(jobLabels, "state"), nil)
	descJobRestarts     = prometheus.NewDesc("sluice_job_restarts_total", "Restarts of the job after failures, over all its runs.", jobLabels, nil)
	descJobExceptions   = prometheus.NewDesc("sluice_job_exceptions", "Exceptions the job keeps (the last 50).", jobLabels, nil)
	descCkptID          = prometheus.NewDesc("sluice_job_last_checkpoint_id", "Id of the job's latest completed checkpoint.", jobLabels, nil)
	descCkptDuration    = prometheus.NewDesc("sluice_job_last_checkpoint_duration_seconds", "Duration of the job's latest completed checkpoint, trigger to completion.", jobLabels, nil)
	descCkptSize        = prometheus.NewDesc("sluice_job_last_checkpoint_size_bytes", "Bytes of the files of the job's latest completed checkpoint.", jobLabels, nil)
	descCkptAlignment   = prometheus.NewDesc("sluice_job_last_checkpoint_alignment_seconds", "Longest barrier alignment of the job's latest completed checkpoint.", jobLabels, nil)
	descOpRecordsIn     = prometheus.NewDesc("sluice_operator_records_in_total", "Records into the operator, summed over its subtasks (the current run's).", opLabels, nil)
	descOpRecordsOut    = prometheus.NewDesc("sluice_operator_records_out_total", "Records out of the operator's main output, summed over its subtasks (the current run's).", opLabels, nil)
	descOpBusy          = prometheus.NewDesc("sluice_operator_busy_seconds_total", "Time the operator's subtasks were busy (neither idle nor backpressured), summed.", opLabels, nil)
	descOpBackpressured = prometheus.NewDesc("sluice_operator_backpressured_seconds_total", "Time the operator's subtasks were blocked on a full exchange channel, summed.", opLabels, nil)
	descOpIdle          = prometheus.NewDesc("sluice_operator_idle_seconds_total", "Time the operator's subtasks waited for input, summed.", opLabels, nil)
	descOpWatermarkLag  = prometheus.NewDesc("sluice_operator_watermark_lag_seconds", "How far the operator's watermark (the smallest of its subtasks') is behind the wall clock.", opLabels, nil)
)

func (c jobCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobUp, descJobRestarts, descJobExceptions, descCkptID, descCkptDuration, descCkptSize, descCkptAlignment,
		descOpRecordsIn, descOpRecordsOut, descOpBusy, descOpBackpressured, descOpIdle, descOpWatermarkLag} {
		ch <- d
	}
}

func (c jobCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.jobsM == nil {
		return
	}
	for _, j := range c.s.jobsM.list() {
		rec, run, last := j.snapshot()
		sum := summaryOf(rec, run)
		up := 0.0
		if run != nil {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descJobUp, prometheus.GaugeValue, up, rec.ID, sum.Name, sum.State)
		ch <- prometheus.MustNewConstMetric(descJobRestarts, prometheus.CounterValue, float64(sum.Restarts), rec.ID, sum.Name)
		ch <- prometheus.MustNewConstMetric(descJobExceptions, prometheus.GaugeValue, float64(len(rec.Exceptions)), rec.ID, sum.Name)
		if last == nil {
			continue
		}
		f := jobFigures(last, endOf(rec, run))
		if cp := f.checkpoints.Latest; cp != nil {
			ch <- prometheus.MustNewConstMetric(descCkptID, prometheus.GaugeValue, float64(cp.ID), rec.ID, sum.Name)
			ch <- prometheus.MustNewConstMetric(descCkptDuration, prometheus.GaugeValue, cp.DurationMs/1000, rec.ID, sum.Name)
			ch <- prometheus.MustNewConstMetric(descCkptSize, prometheus.GaugeValue, float64(cp.SizeBytes), rec.ID, sum.Name)
			ch <- prometheus.MustNewConstMetric(descCkptAlignment, prometheus.GaugeValue, cp.AlignmentMs/1000, rec.ID, sum.Name)
		}
		for _, op := range f.ops {
			l := []string{rec.ID, sum.Name, strconv.Itoa(op.ID), op.Name}
			ch <- prometheus.MustNewConstMetric(descOpRecordsIn, prometheus.CounterValue, float64(op.RecordsIn), l...)
			ch <- prometheus.MustNewConstMetric(descOpRecordsOut, prometheus.CounterValue, float64(op.RecordsOut), l...)
			ch <- prometheus.MustNewConstMetric(descOpBusy, prometheus.CounterValue, float64(op.BusyMs)/1000, l...)
			ch <- prometheus.MustNewConstMetric(descOpBackpressured, prometheus.CounterValue, float64(op.BackpressuredMs)/1000, l...)
			ch <- prometheus.MustNewConstMetric(descOpIdle, prometheus.CounterValue, float64(op.IdleMs)/1000, l...)
			if op.WatermarkLagMs != nil {
				ch <- prometheus.MustNewConstMetric(descOpWatermarkLag, prometheus.GaugeValue, float64(*op.WatermarkLagMs)/1000, l...)
			}
		}
	}
}
