package service

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice/connectors/firehose"
	"github.com/sluicehq/sluice/connectors/firehose/firehoseapi"
)

// The service's Prometheus metrics, served on GET /metrics. Only this
// layer imports the metrics library: the log's wire server reports puts
// through kinesisapi.Options.OnPut, the Firehose API its counters
// (firehoseapi.Server.Counters) and each delivery job its sink's
// (firehose.SinkStats); they are read at scrape time.
type metrics struct {
	reg       *prometheus.Registry
	handler   http.Handler
	latency   *prometheus.HistogramVec
	errors    *prometheus.CounterVec
	kinRecs   *prometheus.CounterVec
	kinBytes  *prometheus.CounterVec
	firehoseC *firehoseCollector
	shards    shardCounters // the REST API's per-shard figures (jobs_rates.go)
}

func newMetrics(s *Service) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sluice_api_request_duration_seconds",
		Help:    "Time to answer an API request (Kinesis or Firehose), by operation.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"api", "operation"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_api_errors_total",
		Help: "API requests answered with an error, by operation and error code (ProvisionedThroughputExceededException: throttled).",
	}, []string{"api", "operation", "code"})
	m.kinRecs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_stream_records_in_total",
		Help: "Records stored by PutRecord and PutRecords, by stream and shard.",
	}, []string{"stream", "shard"})
	m.kinBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_stream_bytes_in_total",
		Help: "Data bytes stored by PutRecord and PutRecords, by stream and shard.",
	}, []string{"stream", "shard"})
	m.firehoseC = &firehoseCollector{s: s, base: map[string]firehose.SinkStats{}}
	m.reg.MustRegister(m.latency, m.errors, m.kinRecs, m.kinBytes, m.firehoseC, jobCollector{s}, logCollector{s})
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// onPut counts a record the Kinesis API stored.
func (m *metrics) onPut(stream, shard string, bytes int) {
	m.kinRecs.WithLabelValues(stream, shard).Inc()
	m.kinBytes.WithLabelValues(stream, shard).Add(float64(bytes))
	c := m.shards.get(stream, shard)
	c.records.Add(1)
	c.bytes.Add(int64(bytes))
}

// statusWriter keeps the error code of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serveAPI answers r with h, timing it by API and operation.
func (m *metrics) serveAPI(w http.ResponseWriter, r *http.Request, api string, h http.Handler) {
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.IndexByte(target, '.')+1:]
	if r.Method != http.MethodPost || op == "" || strings.HasPrefix(op, "Subscribe") {
		// Not an API call (a probe, a refusal), or a subscription, which
		// lasts minutes: not timed.
		h.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	h.ServeHTTP(sw, r)
	if _, known := knownOps[api][op]; !known {
		op = "unknown"
	}
	m.latency.WithLabelValues(api, op).Observe(time.Since(start).Seconds())
	if sw.status >= 400 {
		code := w.Header().Get("X-Amzn-ErrorType")
		if code == "" {
			code = "unknown"
		}
		m.errors.WithLabelValues(api, op, code).Inc()
	}
}

// knownOps bounds the operation label to the APIs' operations.
var knownOps = map[string]map[string]struct{}{
	"kinesis":  set("AddTagsToStream", "CreateStream", "DecreaseStreamRetentionPeriod", "DeleteResourcePolicy", "DeleteStream", "DeregisterStreamConsumer", "DescribeLimits", "DescribeStream", "DescribeStreamConsumer", "DescribeStreamSummary", "DisableEnhancedMonitoring", "EnableEnhancedMonitoring", "GetRecords", "GetResourcePolicy", "GetShardIterator", "IncreaseStreamRetentionPeriod", "ListShards", "ListStreamConsumers", "ListStreams", "ListTagsForResource", "ListTagsForStream", "MergeShards", "PutRecord", "PutRecords", "PutResourcePolicy", "RegisterStreamConsumer", "RemoveTagsFromStream", "SplitShard", "StartStreamEncryption", "StopStreamEncryption", "TagResource", "UntagResource", "UpdateShardCount", "UpdateStreamMode"),
	"firehose": set("CreateDeliveryStream", "DescribeDeliveryStream", "ListDeliveryStreams", "DeleteDeliveryStream", "PutRecord", "PutRecordBatch", "UpdateDestination", "TagDeliveryStream", "UntagDeliveryStream", "ListTagsForDeliveryStream"),
}

func set(names ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		m[n] = struct{}{}
	}
	return m
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// firehoseCollector reads the delivery streams' counters at scrape time.
type firehoseCollector struct {
	s *Service
	// base holds, per delivery stream, the counters of its delivery jobs
	// that have ended (an update restarts the job), so that the counters
	// only grow while the process lives.
	mu   sync.Mutex
	base map[string]firehose.SinkStats
}

var (
	descFhRecordsIn = prometheus.NewDesc("sluice_firehose_records_in_total", "Records PutRecord and PutRecordBatch accepted, by delivery stream.", []string{"delivery_stream"}, nil)
	descFhBytesIn   = prometheus.NewDesc("sluice_firehose_bytes_in_total", "Data bytes PutRecord and PutRecordBatch accepted, by delivery stream.", []string{"delivery_stream"}, nil)
	descFhPutFailed = prometheus.NewDesc("sluice_firehose_put_failed_records_total", "Records PutRecord and PutRecordBatch refused (ServiceUnavailableException), by delivery stream.", []string{"delivery_stream"}, nil)
	descFhDelivered = prometheus.NewDesc("sluice_firehose_delivered_records_total", "Records delivered to the destination (made visible), by delivery stream.", []string{"delivery_stream"}, nil)
	descFhDelBytes  = prometheus.NewDesc("sluice_firehose_delivered_bytes_total", "Data bytes delivered to the destination, by delivery stream.", []string{"delivery_stream"}, nil)
	descFhObjects   = prometheus.NewDesc("sluice_firehose_delivered_objects_total", "Objects delivered (data, error and backup), by delivery stream.", []string{"delivery_stream"}, nil)
	descFhFailures  = prometheus.NewDesc("sluice_firehose_delivery_failed_records_total", "Records that could not be delivered and went to the error output, by delivery stream.", []string{"delivery_stream"}, nil)
	descFhActive    = prometheus.NewDesc("sluice_firehose_delivery_stream_active", "1 for a delivery stream that is ACTIVE, 0 otherwise.", []string{"delivery_stream", "status"}, nil)
)

func (c *firehoseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFhRecordsIn, descFhBytesIn, descFhPutFailed, descFhDelivered, descFhDelBytes, descFhObjects, descFhFailures, descFhActive} {
		ch <- d
	}
}

// ended adds the final counters of a stopped delivery job.
func (c *firehoseCollector) ended(name string, st firehose.SinkStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base[name] = addStats(c.base[name], st)
}

// forget drops a deleted delivery stream's counters.
func (c *firehoseCollector) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.base, name)
}

func addStats(a, b firehose.SinkStats) firehose.SinkStats {
	a.CommittedRecords += b.CommittedRecords
	a.CommittedBytes += b.CommittedBytes
	a.CommittedFailed += b.CommittedFailed
	a.CommittedObjects += b.CommittedObjects
	a.Stream.RecordsDelivered += b.Stream.RecordsDelivered
	a.Stream.BytesDelivered += b.Stream.BytesDelivered
	a.Stream.RecordsFailed += b.Stream.RecordsFailed
	a.Stream.Objects += b.Stream.Objects
	a.Stream.ErrorObjects += b.Stream.ErrorObjects
	a.Stream.BackupObjects += b.Stream.BackupObjects
	return a
}

// delivered is what a sink made visible: its commits when it is exactly
// once, its stream's deliveries when at least once (HTTP).
func delivered(st firehose.SinkStats, atLeastOnce bool) (records, bytes, objects, failed int64) {
	if atLeastOnce {
		return st.Stream.RecordsDelivered, st.Stream.BytesDelivered, st.Stream.Objects + st.Stream.ErrorObjects + st.Stream.BackupObjects, st.Stream.RecordsFailed
	}
	return st.CommittedRecords, st.CommittedBytes, st.CommittedObjects, st.CommittedFailed
}

func (c *firehoseCollector) Collect(ch chan<- prometheus.Metric) {
	counters := c.s.fh.Counters()
	c.s.mu.Lock()
	live := make(map[string]*deliveryJob, len(c.s.jobs))
	for n, j := range c.s.jobs {
		live[n] = j
	}
	c.s.mu.Unlock()
	c.mu.Lock()
	base := make(map[string]firehose.SinkStats, len(c.base))
	for k, v := range c.base {
		base[k] = v
	}
	c.mu.Unlock()
	for _, ds := range c.s.fh.DeliveryStreams() {
		n := ds.Name
		in := counters[n]
		ch <- prometheus.MustNewConstMetric(descFhRecordsIn, prometheus.CounterValue, float64(in.Records), n)
		ch <- prometheus.MustNewConstMetric(descFhBytesIn, prometheus.CounterValue, float64(in.Bytes), n)
		ch <- prometheus.MustNewConstMetric(descFhPutFailed, prometheus.CounterValue, float64(in.FailedRecords), n)
		st, alo := base[n], ds.HTTP != nil
		if j := live[n]; j != nil {
			st = addStats(st, j.sink.Stats())
		}
		recs, bytes, objs, failed := delivered(st, alo)
		ch <- prometheus.MustNewConstMetric(descFhDelivered, prometheus.CounterValue, float64(recs), n)
		ch <- prometheus.MustNewConstMetric(descFhDelBytes, prometheus.CounterValue, float64(bytes), n)
		ch <- prometheus.MustNewConstMetric(descFhObjects, prometheus.CounterValue, float64(objs), n)
		ch <- prometheus.MustNewConstMetric(descFhFailures, prometheus.CounterValue, float64(failed), n)
		active := 0.0
		if ds.Status == firehoseapi.StatusActive {
			active = 1
		}
		ch <- prometheus.MustNewConstMetric(descFhActive, prometheus.GaugeValue, active, n, ds.Status)
	}
}
