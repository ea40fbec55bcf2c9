package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/firehose/firehoseapi"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/diag"
)

// The REST API (docs/service.md): JSON on /v1/..., beside the AWS APIs
// on the same address. Every answer carries "now" (RFC 3339, the
// service's clock) so that a UI polling it can turn counters into rates;
// errors are {"error": {"code", "message", ...}} with the HTTP status of
// the code (apiError).

// APIError is the REST API's error body's "error".
type APIError struct {
	// Code: NotFound (404), ValidationError (400, Field set), SQLError
	// (400, Line and Column set), InvalidJob (400), Conflict (409),
	// MethodNotAllowed (405), InternalError (500).
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field is the JSON path of the field at fault ("config.restart-strategy.type").
	Field string `json:"field,omitempty"`
	// Line and Column (from 1) of a SQL error; Message holds the line and
	// a caret under the column.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Status is the HTTP status (not in the body).
	Status int `json:"-"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// apiError maps an error to the API's error.
func apiError(err error) *APIError {
	var ae *APIError
	var se *SpecError
	var st *StartError
	var de *diag.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, ErrJobNotFound):
		return &APIError{Code: "NotFound", Message: strings.TrimPrefix(err.Error(), ErrJobNotFound.Error()+": "), Status: http.StatusNotFound}
	case errors.As(err, &se):
		return &APIError{Code: "ValidationError", Message: se.Message, Field: se.Field, Status: http.StatusBadRequest}
	case errors.Is(err, errJobState):
		return &APIError{Code: "Conflict", Message: strings.TrimPrefix(err.Error(), errJobState.Error()+": "), Status: http.StatusConflict}
	case errors.As(err, &st) && errors.As(err, &de):
		return &APIError{Code: "SQLError", Message: de.Error(), Line: de.Span.Start.Line, Column: de.Span.Start.Col, Status: http.StatusBadRequest}
	case errors.As(err, &st):
		return &APIError{Code: "InvalidJob", Message: st.Error(), Status: http.StatusBadRequest}
	}
	return &APIError{Code: "InternalError", Message: err.Error(), Status: http.StatusInternalServerError}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]any{"error": &APIError{Code: "InternalError", Message: err.Error()}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeErr(w http.ResponseWriter, err error) {
	ae := apiError(err)
	writeJSON(w, ae.Status, map[string]any{"error": ae})
}

func notFound(what, name string) error {
	return &APIError{Code: "NotFound", Message: fmt.Sprintf("%s %q not found", what, name), Status: http.StatusNotFound}
}

// decodeBody reads a JSON body into v, refusing unknown fields; an empty
// body leaves v as it is. Errors name the field as written.
func decodeBody(r *http.Request, v any) error {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		if f := mapValueField(raw, te.Field); f != "" {
			return &SpecError{Field: f, Message: fmt.Sprintf("want a JSON string, not %s", te.Value)}
		}
		return &SpecError{Field: te.Field, Message: fmt.Sprintf("want a JSON %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)}
	case errors.As(err, &se):
		return &SpecError{Field: "", Message: fmt.Sprintf("not JSON: %v (at byte %d)", se, se.Offset)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &SpecError{Field: f, Message: fmt.Sprintf("unknown field %q", f)}
	}
	return &SpecError{Message: "not JSON: " + err.Error()}
}

// mapValueField names the member of the object of strings at field (as
// "config.KEY") whose value is not a string: encoding/json names only the
// object.
func mapValueField(raw []byte, field string) string {
	if field == "" || strings.Contains(field, ".") {
		return ""
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return ""
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(top[field], &members) != nil {
		return ""
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var str string
		if json.Unmarshal(members[k], &str) != nil {
			return field + "." + k
		}
	}
	return ""
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	case "bool":
		return "boolean"
	}
	return "number"
}

// serveREST answers /v1/...
func (s *Service) serveREST(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/"), "/"), "/")
	method := func(allowed ...string) bool {
		for _, m := range allowed {
			if r.Method == m {
				return true
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeErr(w, &APIError{Code: "MethodNotAllowed", Message: fmt.Sprintf("%s %s: allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")), Status: http.StatusMethodNotAllowed})
		return false
	}
	ok := func(v any, err error) {
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
	switch {
	case len(parts) == 1 && parts[0] == "overview":
		if method(http.MethodGet) {
			ok(s.Overview(), nil)
		}
	case len(parts) == 1 && parts[0] == "streams":
		if method(http.MethodGet) {
			ok(map[string]any{"now": time.Now().UTC(), "streams": s.streamViews()}, nil)
		}
	case len(parts) == 2 && parts[0] == "streams":
		if method(http.MethodGet) {
			ok(s.streamView(parts[1]))
		}
	case len(parts) == 1 && parts[0] == "delivery-streams":
		if method(http.MethodGet) {
			ok(map[string]any{"now": time.Now().UTC(), "delivery_streams": s.deliveryViews()}, nil)
		}
	case len(parts) == 2 && parts[0] == "delivery-streams":
		if method(http.MethodGet) {
			ok(s.deliveryView(parts[1]))
		}
	case len(parts) == 1 && parts[0] == "jobs":
		if !method(http.MethodGet, http.MethodPost) {
			return
		}
		if r.Method == http.MethodGet {
			ok(map[string]any{"now": time.Now().UTC(), "jobs": s.jobSummaries()}, nil)
			return
		}
		var spec JobSpec
		if err := decodeBody(r, &spec); err != nil {
			writeErr(w, err)
			return
		}
		j, err := s.jobsM.submit(spec)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, s.jobView(j))
	case len(parts) == 2 && parts[0] == "jobs":
		if !method(http.MethodGet, http.MethodDelete) {
			return
		}
		j, err := s.jobsM.get(parts[1])
		if err != nil {
			writeErr(w, err)
			return
		}
		if r.Method == http.MethodDelete {
			ok(map[string]any{"deleted": parts[1]}, s.jobsM.remove(j))
			return
		}
		ok(s.jobView(j), nil)
	case len(parts) == 3 && parts[0] == "jobs":
		if !method(http.MethodPost) {
			return
		}
		j, err := s.jobsM.get(parts[1])
		if err != nil {
			writeErr(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
		defer cancel()
		switch parts[2] {
		case "stop":
			var body struct {
				Savepoint bool `json:"savepoint"`
			}
			if err := decodeBody(r, &body); err != nil {
				writeErr(w, err)
				return
			}
			sp, err := j.stop(ctx, body.Savepoint)
			if err != nil {
				writeErr(w, err)
				return
			}
			v := s.jobView(j)
			v.StoppedWith = sp
			writeJSON(w, http.StatusOK, v)
		case "savepoint":
			sp, err := j.takeSavepoint(ctx, false)
			ok(sp, err)
		case "resume":
			var body struct {
				From string `json:"from"`
			}
			if err := decodeBody(r, &body); err != nil {
				writeErr(w, err)
				return
			}
			if err := j.resume(body.From); err != nil {
				if se := (*SpecError)(nil); errors.As(err, &se) && se.Field == "savepoint" {
					se.Field = "from"
				}
				writeErr(w, err)
				return
			}
			ok(s.jobView(j), nil)
		default:
			writeErr(w, notFound("path", r.URL.Path))
		}
	default:
		writeErr(w, notFound("path", r.URL.Path))
	}
}

// remove deletes a job that is not running, and its directory.
func (m *jobManager) remove(j *managedJob) error {
	if _, err := j.running(); err == nil {
		return fmt.Errorf("%w: job %q is RUNNING: stop it first", errJobState, j.rec.ID)
	}
	m.mu.Lock()
	delete(m.jobs, j.rec.ID)
	m.mu.Unlock()
	if err := os.RemoveAll(j.dir); err != nil {
		return fmt.Errorf("job %s: remove: %w", j.rec.ID, err)
	}
	return nil
}

// Overview is GET /v1/overview.
type Overview struct {
	Now             time.Time      `json:"now"`
	Streams         int            `json:"streams"`
	Shards          int            `json:"open_shards"`
	DeliveryStreams int            `json:"delivery_streams"`
	Jobs            map[string]int `json:"jobs"` // by state
	GoJobs          []string       `json:"registered_go_jobs"`
}

// Overview counts what the service holds.
func (s *Service) Overview() Overview {
	o := Overview{Now: time.Now().UTC(), Jobs: map[string]int{}, GoJobs: RegisteredJobs()}
	for _, st := range s.log.ListStreams() {
		o.Streams++
		if d, err := s.log.DescribeStream(shardlog.StreamRef{Name: st.Name}); err == nil {
			o.Shards += d.OpenShardCount
		}
	}
	o.DeliveryStreams = len(s.fh.DeliveryStreams())
	for _, js := range s.jobSummaries() {
		o.Jobs[js.State]++
	}
	if o.GoJobs == nil {
		o.GoJobs = []string{}
	}
	return o
}

// StreamView is a stream in GET /v1/streams[/NAME].
type StreamView struct {
	Name           string         `json:"name"`
	ARN            string         `json:"arn"`
	Status         string         `json:"status"`
	Mode           string         `json:"mode"`
	RetentionHours int            `json:"retention_hours"`
	Created        time.Time      `json:"created"`
	OpenShards     int            `json:"open_shards"`
	RecordsIn      int64          `json:"records_in"`
	BytesIn        int64          `json:"bytes_in"`
	Shards         []ShardView    `json:"shards,omitempty"`
	Consumers      []ConsumerView `json:"consumers,omitempty"`
	// Damage lists damaged ranges of the stream's records (detail only).
	Damage []DamageView `json:"damage,omitempty"`
	Now    *time.Time   `json:"now,omitempty"`
}

// ShardView is a shard: records and bytes stored through the API since
// the service started, and their rates over the last minute.
type ShardView struct {
	ID             string  `json:"id"`
	Parent         string  `json:"parent,omitempty"`
	AdjacentParent string  `json:"adjacent_parent,omitempty"`
	Open           bool    `json:"open"`
	HashKeyStart   string  `json:"hash_key_start"`
	HashKeyEnd     string  `json:"hash_key_end"`
	RecordsIn      int64   `json:"records_in"`
	BytesIn        int64   `json:"bytes_in"`
	RecordsPerSec  float64 `json:"records_per_second"`
	BytesPerSec    float64 `json:"bytes_per_second"`
	// MillisBehindLatest is what the shard's last GetRecords answer said
	// (null: never read through GetRecords).
	MillisBehindLatest *int64 `json:"millis_behind_latest"`
}

// ConsumerView is a registered (enhanced fan-out) consumer.
type ConsumerView struct {
	Name    string    `json:"name"`
	ARN     string    `json:"arn"`
	Status  string    `json:"status"`
	Created time.Time `json:"created"`
	// MillisBehindLatest is the largest over the shards of the last
	// SubscribeToShard events sent to the consumer (null: never subscribed).
	MillisBehindLatest *int64 `json:"millis_behind_latest"`
}

// DamageView is a damaged range of a stream's stored records (the log's
// verification found it; `sluice log repair` skips or salvages it).
type DamageView struct {
	Shard       string `json:"shard"`
	Segment     string `json:"segment"`
	FilePos     int64  `json:"file_position"`
	Offset      uint64 `json:"offset"`
	Reason      string `json:"reason"`
	Description string `json:"description"`
}

func (s *Service) streamViews() []StreamView {
	out := []StreamView{}
	for _, st := range s.log.ListStreams() {
		if v, err := s.describeStream(st.Name, false); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func (s *Service) streamView(name string) (StreamView, error) {
	v, err := s.describeStream(name, true)
	if errors.Is(err, shardlog.ErrResourceNotFound) {
		return v, notFound("stream", name)
	}
	now := time.Now().UTC()
	v.Now = &now
	return v, err
}

func (s *Service) describeStream(name string, detail bool) (StreamView, error) {
	d, err := s.log.DescribeStream(shardlog.StreamRef{Name: name})
	if err != nil {
		return StreamView{}, err
	}
	v := StreamView{Name: d.Name, ARN: d.ARN, Status: string(d.Status), Mode: string(d.Mode), RetentionHours: d.RetentionHours,
		Created: d.Created.UTC(), OpenShards: d.OpenShardCount}
	var lag shardlog.Lag
	if detail {
		if lag, err = s.log.Lag(shardlog.StreamRef{Name: name}); err != nil {
			return v, fmt.Errorf("stream %s: lag: %w", name, err)
		}
	}
	msOf := func(m map[string]int64, k string) *int64 {
		if ms, ok := m[k]; ok {
			return &ms
		}
		return nil
	}
	for _, sh := range d.Shards {
		c := s.metrics.shards.get(name, sh.ShardID)
		rps, bps := c.rates()
		recs, byts := c.records.Load(), c.bytes.Load()
		v.RecordsIn += recs
		v.BytesIn += byts
		if detail {
			v.Shards = append(v.Shards, ShardView{ID: sh.ShardID, Parent: sh.ParentShardID, AdjacentParent: sh.AdjacentParentShardID,
				Open: sh.EndingSequenceNumber == nil, HashKeyStart: sh.HashKeyRange.Start.String(), HashKeyEnd: sh.HashKeyRange.End.String(),
				RecordsIn: recs, BytesIn: byts, RecordsPerSec: rps, BytesPerSec: bps, MillisBehindLatest: msOf(lag.Shards, sh.ShardID)})
		}
	}
	if detail {
		cs, err := s.log.ListStreamConsumers(d.ARN)
		if err != nil {
			return v, fmt.Errorf("stream %s: consumers: %w", name, err)
		}
		for _, c := range cs {
			v.Consumers = append(v.Consumers, ConsumerView{Name: c.Name, ARN: c.ARN, Status: c.Status, Created: c.Created.UTC(),
				MillisBehindLatest: msOf(lag.Consumers, c.Name)})
		}
		for _, dr := range s.log.Damage() {
			if dr.Stream == name {
				v.Damage = append(v.Damage, DamageView{Shard: dr.Shard, Segment: dr.Segment, FilePos: dr.FilePos, Offset: dr.Offset,
					Reason: dr.Reason, Description: dr.String()})
			}
		}
	}
	return v, nil
}

// DeliveryView is a delivery stream in GET /v1/delivery-streams[/NAME].
type DeliveryView struct {
	Name   string `json:"name"`
	ARN    string `json:"arn"`
	Type   string `json:"type"`
	Status string `json:"status"`
	// Source is the Kinesis stream read (KinesisStreamAsSource).
	Source string `json:"source,omitempty"`
	// Destination is "s3" or "http".
	Destination string `json:"destination"`
	// RecordsIn and BytesIn: accepted by PutRecord(Batch).
	RecordsIn int64 `json:"records_in"`
	BytesIn   int64 `json:"bytes_in"`
	// BufferedBytes: taken by the delivery job and not yet written out.
	BufferedBytes int64 `json:"buffered_bytes"`
	// Delivered: made visible at the destination (committed).
	RecordsDelivered int64 `json:"records_delivered"`
	BytesDelivered   int64 `json:"bytes_delivered"`
	ObjectsDelivered int64 `json:"objects_delivered"`
	// Failures: records that went to the error output.
	Failures int64      `json:"failures"`
	Now      *time.Time `json:"now,omitempty"`
}

func (s *Service) deliveryViews() []DeliveryView {
	out := []DeliveryView{}
	counters := s.fh.Counters()
	for _, ds := range s.fh.DeliveryStreams() {
		out = append(out, s.deliveryOf(ds.Name, counters))
	}
	return out
}

func (s *Service) deliveryView(name string) (DeliveryView, error) {
	for _, ds := range s.fh.DeliveryStreams() {
		if ds.Name == name {
			v := s.deliveryOf(name, s.fh.Counters())
			now := time.Now().UTC()
			v.Now = &now
			return v, nil
		}
	}
	return DeliveryView{}, notFound("delivery stream", name)
}

func (s *Service) deliveryOf(name string, counters map[string]firehoseapi.Counters) DeliveryView {
	var v DeliveryView
	for _, ds := range s.fh.DeliveryStreams() {
		if ds.Name != name {
			continue
		}
		v = DeliveryView{Name: ds.Name, ARN: ds.ARN, Type: ds.Type, Status: ds.Status, Destination: "s3"}
		if ds.Source != nil && ds.Source.KinesisStreamARN != nil {
			v.Source = *ds.Source.KinesisStreamARN
		}
		if ds.HTTP != nil {
			v.Destination = "http"
		}
		in := counters[name]
		v.RecordsIn, v.BytesIn = in.Records, in.Bytes
		c := s.metrics.firehoseC
		c.mu.Lock()
		st := c.base[name]
		c.mu.Unlock()
		s.mu.Lock()
		dj := s.jobs[name]
		s.mu.Unlock()
		if dj != nil {
			live := dj.sink.Stats()
			st = addStats(st, live)
			v.BufferedBytes = max(0, live.Stream.BytesIn-live.Stream.BytesDelivered)
		}
		v.RecordsDelivered, v.BytesDelivered, v.ObjectsDelivered, v.Failures = delivered(st, ds.HTTP != nil)
	}
	return v
}

// JobSummary is a job in GET /v1/jobs.
type JobSummary struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"` // "sql" or "go"
	Go        string    `json:"go,omitempty"`
	State     string    `json:"state"`
	Submitted time.Time `json:"submitted"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended,omitzero"`
	Restarts  int       `json:"restarts"`
	// LastException is the newest exception's message.
	LastException string `json:"last_exception,omitempty"`
}

func summaryOf(rec jobRecord, run *engine.Running) JobSummary {
	js := JobSummary{ID: rec.ID, Name: rec.Name, Kind: "sql", Go: rec.Spec.Go, State: rec.State, Submitted: rec.Submitted,
		Started: rec.Started, Ended: rec.Ended, Restarts: rec.Restarts}
	if rec.Spec.Go != "" {
		js.Kind = "go"
	}
	if run != nil {
		js.Restarts += run.Attempt()
		if restarting(run) {
			js.State = JobRestarting
		}
	}
	if n := len(rec.Exceptions); n > 0 {
		js.LastException = rec.Exceptions[n-1].Message
	}
	return js
}

// restarting reports whether the run is between a failure and its
// restart (its last event is a restart not followed by a restore or a
// checkpoint).
func restarting(run *engine.Running) bool {
	evs := run.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		switch evs[i].Kind {
		case engine.EventRestarting:
			return run.AttemptStarted().Before(evs[i].Time)
		case engine.EventRestored, engine.EventCheckpointCompleted:
			return false
		}
	}
	return false
}

func (s *Service) jobSummaries() []JobSummary {
	out := []JobSummary{}
	for _, j := range s.jobsM.list() {
		rec, run, _ := j.snapshot()
		out = append(out, summaryOf(rec, run))
	}
	return out
}

// JobView is GET /v1/jobs/ID.
type JobView struct {
	JobSummary
	SQL    string            `json:"sql,omitempty"`
	Args   []string          `json:"args,omitempty"`
	Config map[string]string `json:"config,omitempty"`
	// Graph is the planned job: operators (nodes) and edges (of its last
	// run when it is not running; empty before it ever ran).
	Graph       GraphView       `json:"graph"`
	Operators   []OperatorView  `json:"operators"`
	Checkpoints CheckpointsView `json:"checkpoints"`
	Savepoints  []JobSavepoint  `json:"savepoints"`
	Exceptions  []JobException  `json:"exceptions"`
	// StoppedWith is the savepoint a stop took (POST .../stop only).
	StoppedWith *JobSavepoint `json:"stopped_with,omitempty"`
	Now         time.Time     `json:"now"`
}

// GraphView is a job's graph for drawing: nodes, edges, chains.
type GraphView struct {
	Nodes  []GraphNode  `json:"nodes"`
	Edges  []GraphEdge  `json:"edges"`
	Chains []GraphChain `json:"chains"`
}

// GraphNode is an operator of the graph.
type GraphNode struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Kind        string `json:"kind"` // source, operator, sink
	Parallelism int    `json:"parallelism"`
	Chain       int    `json:"chain"`
}

// GraphEdge is an edge: Partitioning forward, rebalance, hash or
// broadcast; Chained: a call inside a task, not an exchange.
type GraphEdge struct {
	From         int    `json:"from"`
	To           int    `json:"to"`
	Partitioning string `json:"partitioning"`
	Chained      bool   `json:"chained"`
	SideOutput   string `json:"side_output,omitempty"`
}

// GraphChain is operators run in one task per subtask.
type GraphChain struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Parallelism int    `json:"parallelism"`
	Operators   []int  `json:"operators"`
}

// OperatorView is one operator's counters, summed over its subtasks, and
// per subtask. Times are milliseconds of the current attempt (they start
// from zero when the job restarts): backpressured + idle + busy = elapsed
// per subtask.
type OperatorView struct {
	ID               int           `json:"id"`
	Name             string        `json:"name"`
	Parallelism      int           `json:"parallelism"`
	RecordsIn        int64         `json:"records_in"`
	RecordsOut       int64         `json:"records_out"`
	Watermark        *int64        `json:"watermark"` // ms since the epoch; null: none yet
	WatermarkLagMs   *int64        `json:"watermark_lag_ms"`
	BusyMs           int64         `json:"busy_ms"`
	BackpressuredMs  int64         `json:"backpressured_ms"`
	IdleMs           int64         `json:"idle_ms"`
	BackpressuredNow int           `json:"backpressured_subtasks"`
	Subtasks         []SubtaskView `json:"subtasks"`
}

// SubtaskView is one subtask of an operator.
type SubtaskView struct {
	Subtask          int    `json:"subtask"`
	RecordsIn        int64  `json:"records_in"`
	RecordsOut       int64  `json:"records_out"`
	Watermark        *int64 `json:"watermark"`
	BusyMs           int64  `json:"busy_ms"`
	BackpressuredMs  int64  `json:"backpressured_ms"`
	IdleMs           int64  `json:"idle_ms"`
	BackpressuredNow bool   `json:"backpressured"`
}

// CheckpointsView is a job's checkpoints: the latest and the last 100
// completed, oldest first.
type CheckpointsView struct {
	Latest  *CheckpointView  `json:"latest"`
	History []CheckpointView `json:"history"`
}

// CheckpointView is one completed checkpoint.
type CheckpointView struct {
	ID          int64     `json:"id"`
	Completed   time.Time `json:"completed"`
	DurationMs  float64   `json:"duration_ms"`
	SizeBytes   int64     `json:"size_bytes"`
	AlignmentMs float64   `json:"alignment_ms"`
	SyncPauseMs float64   `json:"sync_pause_ms"`
	Path        string    `json:"path"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func wmOf(wm int64) *int64 {
	if wm <= engine.MinTime || wm >= engine.MaxTime {
		return nil
	}
	return &wm
}

func (s *Service) jobView(j *managedJob) JobView {
	rec, run, last := j.snapshot()
	v := JobView{JobSummary: summaryOf(rec, run), SQL: rec.Spec.SQL, Args: rec.Spec.Args, Config: rec.Spec.Config,
		Operators: []OperatorView{}, Savepoints: rec.Savepoints, Exceptions: rec.Exceptions, Now: time.Now().UTC()}
	v.Graph = GraphView{Nodes: []GraphNode{}, Edges: []GraphEdge{}, Chains: []GraphChain{}}
	v.Checkpoints.History = []CheckpointView{}
	if v.Savepoints == nil {
		v.Savepoints = []JobSavepoint{}
	}
	if v.Exceptions == nil {
		v.Exceptions = []JobException{}
	}
	if last == nil {
		return v
	}
	// A job that is not running shows its last run's final figures.
	jv := jobFigures(last, endOf(rec, run))
	v.Graph, v.Operators, v.Checkpoints = jv.graph, jv.ops, jv.checkpoints
	return v
}

// figures are a running job's graph, operators and checkpoints, as the
// REST API and /metrics both show them.
type figures struct {
	graph       GraphView
	ops         []OperatorView
	checkpoints CheckpointsView
}

// endOf is when a job's last run ended (zero while it runs).
func endOf(rec jobRecord, run *engine.Running) time.Time {
	if run != nil {
		return time.Time{}
	}
	return rec.Ended
}

// jobFigures computes run's figures as of now, or of end when the run has
// ended (its times stop there).
func jobFigures(run *engine.Running, end time.Time) figures {
	var f figures
	g := run.Graph()
	f.graph = GraphView{Nodes: []GraphNode{}, Edges: []GraphEdge{}, Chains: []GraphChain{}}
	byID := map[int]int{}
	for _, op := range g.Operators {
		f.graph.Nodes = append(f.graph.Nodes, GraphNode{ID: op.ID, Name: op.Name, Kind: op.Kind, Parallelism: op.Parallelism, Chain: op.Chain})
		byID[op.ID] = len(f.ops)
		f.ops = append(f.ops, OperatorView{ID: op.ID, Name: op.Name, Parallelism: op.Parallelism, Subtasks: []SubtaskView{}})
	}
	for _, e := range g.Edges {
		f.graph.Edges = append(f.graph.Edges, GraphEdge{From: e.From, To: e.To, Partitioning: e.Partitioning, Chained: e.Chained, SideOutput: e.SideOutput})
	}
	for i, c := range g.Chains {
		f.graph.Chains = append(f.graph.Chains, GraphChain{ID: i, Name: c.Name, Parallelism: c.Parallelism, Operators: c.Operators})
	}
	now := run.Now()
	if !end.IsZero() {
		now = end
	}
	elapsed := now.Sub(run.AttemptStarted())
	minWm := map[int]int64{}
	for _, st := range run.Subtasks() {
		i, ok := byID[st.Operator]
		if !ok {
			continue
		}
		op := &f.ops[i]
		busy := max(0, elapsed-st.Backpressured-st.Idle)
		sv := SubtaskView{Subtask: st.Subtask, RecordsIn: st.RecordsIn, RecordsOut: st.RecordsOut, Watermark: wmOf(st.Watermark),
			BusyMs: busy.Milliseconds(), BackpressuredMs: st.Backpressured.Milliseconds(), IdleMs: st.Idle.Milliseconds(), BackpressuredNow: st.BackpressuredNow}
		op.Subtasks = append(op.Subtasks, sv)
		op.RecordsIn += sv.RecordsIn
		op.RecordsOut += sv.RecordsOut
		op.BusyMs += sv.BusyMs
		op.BackpressuredMs += sv.BackpressuredMs
		op.IdleMs += sv.IdleMs
		if sv.BackpressuredNow {
			op.BackpressuredNow++
		}
		if w, seen := minWm[i]; !seen || st.Watermark < w {
			minWm[i] = st.Watermark
		}
	}
	for i, w := range minWm {
		if f.ops[i].Watermark = wmOf(w); f.ops[i].Watermark != nil {
			lag := now.UnixMilli() - w
			f.ops[i].WatermarkLagMs = &lag
		}
	}
	for _, c := range run.CheckpointHistory() {
		f.checkpoints.History = append(f.checkpoints.History, CheckpointView{ID: c.ID, Completed: c.Completed.UTC(), DurationMs: ms(c.Duration),
			SizeBytes: c.Size, AlignmentMs: ms(c.Alignment), SyncPauseMs: ms(c.MaxSyncPause), Path: c.Dir})
	}
	if f.checkpoints.History == nil {
		f.checkpoints.History = []CheckpointView{}
	}
	if n := len(f.checkpoints.History); n > 0 {
		l := f.checkpoints.History[n-1]
		f.checkpoints.Latest = &l
	}
	return f
}
