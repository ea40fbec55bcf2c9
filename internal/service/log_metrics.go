package service

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// logCollector exposes the log's read lag and damage on /metrics, from the
// same figures as GET /v1/streams/NAME.
type logCollector struct{ s *Service }

var (
	descShardBehind = prometheus.NewDesc("sluice_shard_millis_behind_latest",
		"MillisBehindLatest of the shard's last GetRecords answer: how far its polling readers are behind its tip (iterator age).",
		[]string{"stream", "shard"}, nil)
	descConsumerBehind = prometheus.NewDesc("sluice_consumer_millis_behind_latest",
		"The largest MillisBehindLatest of the last SubscribeToShard events sent to an enhanced fan-out consumer, over the stream's shards.",
		[]string{"stream", "consumer"}, nil)
	descDamage = prometheus.NewDesc("sluice_log_damaged_ranges",
		"Damaged ranges of stored records found in the stream (reads stop there until `sluice log repair`).",
		[]string{"stream"}, nil)
)

func (logCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descShardBehind
	ch <- descConsumerBehind
	ch <- descDamage
}

func (c logCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.s.log
	damage := map[string]int{}
	for _, d := range l.Damage() {
		damage[d.Stream]++
	}
	for _, st := range l.ListStreams() {
		name := st.Name
		lag, err := l.Lag(shardlog.StreamRef{Name: name})
		if err != nil {
			continue // deleted meanwhile
		}
		for shard, ms := range lag.Shards {
			ch <- prometheus.MustNewConstMetric(descShardBehind, prometheus.GaugeValue, float64(ms), name, shard)
		}
		for consumer, ms := range lag.Consumers {
			ch <- prometheus.MustNewConstMetric(descConsumerBehind, prometheus.GaugeValue, float64(ms), name, consumer)
		}
		ch <- prometheus.MustNewConstMetric(descDamage, prometheus.GaugeValue, float64(damage[name]), name)
	}
}
