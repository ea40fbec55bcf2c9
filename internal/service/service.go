// Package service composes Sluice as one self-hosted service: the log
// over the Kinesis API and delivery streams over the Firehose API, on one
// address, with the data of both under one directory. It is what `sluice
// serve` runs.
//
// Layout of the data directory:
//
//	DIR/log/              the log of the Kinesis streams
//	DIR/firehose/         the delivery streams' definitions
//	DIR/firehose/input/   a log with one stream per DirectPut delivery
//	                      stream: its records, durable before PutRecord
//	                      answers (kept apart so that Kinesis clients never
//	                      see them)
//	DIR/firehose/checkpoints/NAME/
//	                      the delivery job's checkpoints
//	DIR/buckets/BUCKET/   a bucket's objects when no S3 endpoint is set
//	DIR/video/            the video streams and their fragments
//	                      (Options.Video; connectors/video)
//
// Every delivery stream is an engine job of the log's source and the
// Firehose sink, with checkpoints: delivery to S3 or a directory is
// exactly once across crashes (objects are staged and committed with the
// checkpoint after them, so they appear once per checkpoint interval); an
// HTTP endpoint is delivered at least once, as Firehose does.
package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/firehose"
	"github.com/sluicehq/sluice/connectors/firehose/firehoseapi"
	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
	"github.com/sluicehq/sluice/connectors/trigger"
	"github.com/sluicehq/sluice/connectors/video/videoapi"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/service/dashboard"
)

// DefaultAddr is the address `sluice serve` listens on by default.
const DefaultAddr = "127.0.0.1:4567"

// Options configure a Service.
type Options struct {
	// Dir holds all the service's data. Required.
	Dir string
	// S3Endpoint, when set, is where the S3 destinations' buckets are (an
	// S3-compatible server, path-style addressing; credentials from the
	// usual AWS chain). Empty: each bucket is a local directory,
	// Dir/buckets/BUCKET.
	S3Endpoint string
	// S3Region is the region of S3Endpoint (default us-east-1).
	S3Region string
	// AllowAnonymous accepts requests without a signature.
	AllowAnonymous bool
	// CredentialsFile, when set, lists the keys whose SigV4 signatures
	// both APIs accept, with each key's IAM-like policy
	// (kinesis:<Operation> and firehose:<Operation> actions;
	// kinesisapi.LoadCredentials). Without it a request must be signed,
	// but the signature is not checked.
	CredentialsFile string
	// CheckpointInterval is how often each delivery job checkpoints, and
	// so how often its objects become visible. Default: the delivery
	// stream's buffering interval, at least 1 s.
	CheckpointInterval time.Duration
	// ErrorLog receives internal errors (nil: discarded).
	ErrorLog func(format string, args ...any)
	// TriggerSource is the source of a stored trigger that reads another
	// Kinesis endpoint (trigger.HostOptions.NewSource); nil: only triggers
	// on the service's own streams run.
	TriggerSource func(trigger.Config) (trigger.Source, error)
	// TriggerSync is how often the stored triggers are looked at again, so
	// that one created (or deleted) with `sluice trigger` while the service
	// runs starts (or stops). Default 2 s.
	TriggerSync time.Duration
	// Video serves Kinesis Video Streams' APIs (their REST paths, /createStream
	// … /putMedia, /getMedia) beside the others, over a store in DIR/video.
	Video bool
	// JobCheckpointInterval is how often a job checkpoints when its
	// script or config does not say (execution.checkpointing.interval).
	// Default 10 s.
	JobCheckpointInterval time.Duration
}

// Service is the running composition. Its ServeHTTP answers the Kinesis
// and Firehose APIs, told apart by X-Amz-Target as AWS does.
type Service struct {
	opts    Options
	log     *shardlog.Log
	input   *shardlog.Log
	kinesis *kinesisapi.Server
	fh      *firehoseapi.Server
	metrics *metrics
	jobsM   *jobManager // the SQL and Go jobs (jobs.go)

	mu   sync.Mutex
	jobs map[string]*deliveryJob

	// The Lambda-style triggers stored under Dir (triggers.go).
	triggers  *trigger.Store
	host      *trigger.Host
	stopTrigs context.CancelFunc
	trigsDone chan struct{}

	// The video streams (Options.Video), nil without.
	video *videoapi.Server
	// dashboard serves the web dashboard under dashboard.Prefix.
	dashboard http.Handler
}

type deliveryJob struct {
	running *engine.Running
	sink    *firehose.Sink[shardconn.SourceRecord]
	stream  string // the stream read, in log or input
	direct  bool
}

// Open opens (or creates) the service's data under opts.Dir and starts
// every delivery stream found there.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if opts.Dir == "" {
		return nil, errors.New("service: Options.Dir is required")
	}
	if opts.S3Region == "" {
		opts.S3Region = "us-east-1"
	}
	if opts.JobCheckpointInterval <= 0 {
		opts.JobCheckpointInterval = 10 * time.Second
	}
	s := &Service{opts: opts, jobs: map[string]*deliveryJob{}, dashboard: dashboard.Handler()}
	var err error
	if s.log, err = shardlog.Open(shardlog.Options{Dir: filepath.Join(opts.Dir, "log")}); err != nil {
		return nil, fmt.Errorf("service: open the log: %w", err)
	}
	if s.input, err = shardlog.Open(shardlog.Options{Dir: filepath.Join(opts.Dir, "firehose", "input")}); err != nil {
		s.log.Close()
		return nil, fmt.Errorf("service: open the delivery streams' input: %w", err)
	}
	var creds *kinesisapi.Credentials
	if opts.CredentialsFile != "" {
		if creds, err = kinesisapi.LoadCredentials(opts.CredentialsFile, s.log.Options().AccountID); err != nil {
			s.input.Close()
			s.log.Close()
			return nil, err
		}
	}
	s.metrics = newMetrics(s)
	s.kinesis = kinesisapi.New(s.log, kinesisapi.Options{AllowAnonymous: opts.AllowAnonymous, Credentials: creds, ErrorLog: opts.ErrorLog, OnPut: s.metrics.onPut})
	lo := s.log.Options()
	s.fh, err = firehoseapi.New(ctx, firehoseapi.Options{
		Dir: filepath.Join(opts.Dir, "firehose"), Backend: (*backend)(s),
		Region: lo.Region, AccountID: lo.AccountID, AllowAnonymous: opts.AllowAnonymous, ErrorLog: opts.ErrorLog,
		// Signatures and policies are checked as the Kinesis API checks
		// them, for the firehose service.
		Authenticate: func(hr *http.Request, body []byte) (any, error) { return s.kinesis.Verify(hr, body, "firehose") },
		Authorize: func(p any, action, resource string) error {
			pr, _ := p.(*kinesisapi.Principal)
			return s.kinesis.Authorize(pr, action, resource)
		},
	})
	if err != nil {
		s.closeJobs(ctx)
		s.input.Close()
		s.log.Close()
		return nil, err
	}
	if opts.Video {
		if err := s.openVideo(); err != nil {
			s.fh.Close(ctx)
			s.input.Close()
			s.log.Close()
			return nil, err
		}
	}
	if err := s.startTriggers(); err != nil {
		s.closeVideo()
		s.fh.Close(ctx)
		s.input.Close()
		s.log.Close()
		return nil, err
	}
	if s.jobsM, err = openJobs(s); err != nil {
		s.stopTriggers()
		s.fh.Close(ctx)
		s.input.Close()
		s.log.Close()
		return nil, err
	}
	s.jobsM.resumeAll()
	return s, nil
}

// Log is the log of the Kinesis streams.
func (s *Service) Log() *shardlog.Log { return s.log }

// Firehose is the Firehose API server.
func (s *Service) Firehose() *firehoseapi.Server { return s.fh }

// ServeHTTP routes a request: the Firehose API by its X-Amz-Target, GET
// /metrics to the Prometheus metrics (metrics.go), everything else to the
// Kinesis API (which also answers GET /healthz and the protocol's
// refusals).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), firehoseapi.TargetPrefix):
		s.metrics.serveAPI(w, r, "firehose", s.fh)
	case s.video != nil && s.video.Handles(r.URL.Path):
		s.video.ServeHTTP(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/metrics":
		s.metrics.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1/") && r.Header.Get("X-Amz-Target") == "":
		s.serveREST(w, r) // the REST API (api.go)
	case strings.HasPrefix(r.URL.Path, dashboard.Prefix) && r.Header.Get("X-Amz-Target") == "":
		s.dashboard.ServeHTTP(w, r) // the web dashboard (internal/service/dashboard)
	default:
		s.metrics.serveAPI(w, r, "kinesis", s.kinesis)
	}
}

// Serve answers on ln until ctx ends, then shuts down: in-flight requests
// get up to 5 s, subscriptions end; the service itself stays open (call
// Close).
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: s, Protocols: p, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.kinesis.StopSubscriptions()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the triggers, every job and every delivery stream after a
// last checkpoint (what was buffered is delivered and committed) and closes the
// logs.
func (s *Service) Close(ctx context.Context) error {
	s.stopTriggers()
	// Every job takes a last checkpoint and stops; it resumes from there
	// when the service opens again (jobs.go).
	errs := []error{s.jobsM.closeAll(ctx), s.fh.Close(ctx)}
	errs = append(errs, s.closeVideo(), s.input.Close(), s.log.Close())
	return errors.Join(errs...)
}

func (s *Service) closeJobs(ctx context.Context) {
	s.mu.Lock()
	names := make([]string, 0, len(s.jobs))
	for n := range s.jobs {
		names = append(names, n)
	}
	s.mu.Unlock()
	for _, n := range names {
		(*backend)(s).Stop(ctx, n)
	}
}

// backend is the Service as the Firehose API's Backend.
type backend Service

// bucketConfig places a bucket: on the S3 endpoint, or in a directory.
func (b *backend) place(c *s3.Config) (*s3.Config, *firehose.DirectoryConfig) {
	if b.opts.S3Endpoint != "" {
		return &s3.Config{Bucket: c.Bucket, Endpoint: b.opts.S3Endpoint, Region: b.opts.S3Region, UsePathStyle: true}, nil
	}
	return nil, &firehose.DirectoryConfig{Path: filepath.Join(b.opts.Dir, "buckets", c.Bucket)}
}

func (b *backend) checkpointDir(name string) string {
	return filepath.Join(b.opts.Dir, "firehose", "checkpoints", name)
}

// streamOfARN is the stream name of a Kinesis stream ARN.
func streamOfARN(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// CheckSource implements firehoseapi.Backend.
func (b *backend) CheckSource(arn string) error {
	lo := b.log.Options()
	name := streamOfARN(arn)
	if want := "arn:aws:kinesis:" + lo.Region + ":" + lo.AccountID + ":stream/" + name; arn != want {
		return fmt.Errorf("Kinesis stream %s is not a stream of this server (its streams are %s).", arn, want)
	}
	if _, err := b.log.DescribeStream(shardlog.StreamRef{Name: name}); err != nil {
		return fmt.Errorf("Kinesis stream %s does not exist.", arn)
	}
	return nil
}

// Start implements firehoseapi.Backend.
func (b *backend) Start(ctx context.Context, ds firehoseapi.DeliveryStream, cfg firehose.Config) error {
	l, stream, start := b.log, "", shardlog.StartPosition{Type: shardlog.TrimHorizon}
	if ds.Type == firehoseapi.TypeDirectPut {
		l, stream = b.input, ds.Name
		ref := shardlog.StreamRef{Name: stream}
		if _, err := l.DescribeStream(ref); errors.Is(err, shardlog.ErrResourceNotFound) {
			if err := l.CreateStream(shardlog.CreateStreamInput{Name: stream, ShardCount: 1}); err != nil {
				return fmt.Errorf("create the input of %q: %w", ds.Name, err)
			}
		} else if err != nil {
			return err
		}
	} else {
		// A Kinesis source is read from the delivery stream's creation on.
		stream = streamOfARN(*ds.Source.KinesisStreamARN)
		start = shardlog.StartPosition{Type: shardlog.AtTimestamp, Timestamp: ds.Created}
	}
	if cfg.S3 != nil {
		cfg.S3, cfg.Directory = b.place(cfg.S3)
	}
	if bk := cfg.Backup; bk != nil && bk.S3 != nil {
		bk.S3, bk.Directory = b.place(bk.S3)
	}
	interval := b.opts.CheckpointInterval
	if interval == 0 {
		interval = time.Second
		if iv := cfg.Buffering.IntervalInSeconds; iv == nil {
			interval = firehose.DefaultIntervalInSeconds * time.Second
		} else if *iv > 1 {
			interval = time.Duration(*iv) * time.Second
		}
	}
	src, err := shardconn.NewSource(l, shardconn.SourceOptions{Stream: shardlog.StreamRef{Name: stream}, Start: start, Checkpointed: true})
	if err != nil {
		return err
	}
	sink, err := firehose.NewSink[shardconn.SourceRecord](cfg, firehose.SinkOptions{AtLeastOnce: cfg.HTTPEndpoint != nil}, logRecord)
	if err != nil {
		return err
	}
	j := engine.NewJob("firehose-"+ds.Name, engine.Config{
		Parallelism: 1,
		Checkpoint:  engine.CheckpointConfig{Dir: b.checkpointDir(ds.Name), Interval: interval, Resume: true},
	})
	recs := engine.SourceOf(j, "log:"+stream, src, engine.WatermarkStrategy[shardconn.SourceRecord]{})
	engine.SinkTo(recs, "firehose:"+ds.Name, sink)
	r, err := j.Start(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("start the delivery of %q: %w", ds.Name, err)
	}
	b.mu.Lock()
	b.jobs[ds.Name] = &deliveryJob{running: r, sink: sink, stream: stream, direct: ds.Type == firehoseapi.TypeDirectPut}
	b.mu.Unlock()
	return nil
}

func logRecord(r shardconn.SourceRecord) firehose.Record {
	return firehose.Record{Data: r.Data, ArrivalTime: r.ArrivalTime, PartitionKey: r.PartitionKey, SequenceNumber: r.SequenceNumber.String()}
}

// Stop implements firehoseapi.Backend: a last checkpoint commits what the
// job buffered, then the job is cancelled.
func (b *backend) Stop(ctx context.Context, name string) error {
	b.mu.Lock()
	dj := b.jobs[name]
	delete(b.jobs, name)
	b.mu.Unlock()
	if dj == nil {
		return nil
	}
	var errs []error
	select {
	case <-dj.running.Done():
	default:
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		if _, err := dj.running.TriggerCheckpoint(cctx); err != nil {
			errs = append(errs, fmt.Errorf("last checkpoint of %q: %w", name, err))
		} else {
			// The commits run on the writers' goroutines.
			for dj.sink.Pending() > 0 && cctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
			}
		}
		cancel()
		dj.running.Cancel()
	}
	if err := dj.running.Wait(); err != nil && !errors.Is(err, engine.ErrJobCancelled) {
		errs = append(errs, fmt.Errorf("delivery of %q: %w", name, err))
	}
	b.metrics.firehoseC.ended(name, dj.sink.Stats())
	return errors.Join(errs...)
}

// Remove implements firehoseapi.Backend.
func (b *backend) Remove(ctx context.Context, name string) error {
	if err := b.Stop(ctx, name); err != nil {
		return err
	}
	if err := b.input.DeleteStream(shardlog.StreamRef{Name: name}, true); err != nil && !errors.Is(err, shardlog.ErrResourceNotFound) {
		return fmt.Errorf("delete the input of %q: %w", name, err)
	}
	if err := os.RemoveAll(b.checkpointDir(name)); err != nil {
		return fmt.Errorf("remove the checkpoints of %q: %w", name, err)
	}
	b.metrics.firehoseC.forget(name)
	return nil
}

// Put implements firehoseapi.Backend: the records go to the delivery
// stream's input stream, synced before the answer.
func (b *backend) Put(ctx context.Context, name string, data [][]byte) ([]firehoseapi.PutResult, error) {
	entries := make([]shardlog.PutEntry, len(data))
	for i, d := range data {
		entries[i] = shardlog.PutEntry{PartitionKey: "firehose", Data: d}
	}
	res, err := b.input.PutRecords(ctx, shardlog.StreamRef{Name: name}, entries, nil)
	if err != nil {
		return nil, fmt.Errorf("put to the input of %q: %w", name, err)
	}
	out := make([]firehoseapi.PutResult, len(res))
	for i, r := range res {
		if r.Err != nil {
			out[i].Err = r.Err
			continue
		}
		out[i].RecordID = r.SequenceNumber.String()
	}
	return out, nil
}
