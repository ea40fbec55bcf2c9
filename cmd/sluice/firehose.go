package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/firehose"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
	"github.com/sluicehq/sluice/engine"
)

func init() {
	registerGroup("firehose", "Firehose-style delivery with no job code: run (from a log stream, exactly once), validate", []*command{
		{"run", "deliver a stream of the built-in log: sluice firehose run --log-dir DIR --source STREAM --config FILE --checkpoint-dir DIR", firehoseRun},
		{"validate", "check a delivery stream configuration file and print it with defaults applied", firehoseValidate},
	})
}

const firehoseRunHelp = `Runs a delivery stream fed by a stream of the built-in log, with no job
code: a job of the shardlog source and the Firehose sink, with checkpoints.

The configuration file is the JSON form of firehose.Config (see
firehose.ParseConfig; 'sluice firehose validate FILE' checks one): buffering
hints, prefixes, format (raw, jsonl, parquet with declared columns),
compression, transform (an HTTP Lambda endpoint), dynamic partitioning,
and an S3 or directory destination.

Delivery is exactly once: objects are staged and made visible when the
checkpoint after them completes, so they appear every --checkpoint-interval
(default: the configuration's buffering interval, at least 1s). Stop with
Ctrl-C (a last checkpoint commits what was buffered) and continue later with
--resume. --at-least-once delivers as Firehose does instead.

The log is embedded (one process owns --log-dir): --serve ADDR also serves
it over the Kinesis API, so that producers (AWS SDKs and CLI, 'sluice log
put --endpoint') can put records while it is being delivered.

Flags:
`

func firehoseRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("firehose run", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), firehoseRunHelp)
		fs.PrintDefaults()
	}
	configFile := fs.String("config", "", "delivery stream configuration (JSON; required)")
	source := fs.String("source", "", "stream of the log to deliver (required)")
	logDir := fs.String("log-dir", "", "data directory of the embedded log (required)")
	createShards := fs.Int("create-shards", 0, "create the source stream with this many shards if it does not exist")
	serve := fs.String("serve", "", "also serve the log over the Kinesis API on this address (e.g. 127.0.0.1:4567)")
	anonymous := fs.Bool("allow-anonymous", false, "with --serve: accept requests without an Authorization header")
	chkDir := fs.String("checkpoint-dir", "", "checkpoint directory (required, except with --at-least-once)")
	chkInterval := fs.Duration("checkpoint-interval", 0, "time between checkpoints, when staged objects become visible (default: the buffering interval, at least 1s)")
	resume := fs.Bool("resume", false, "continue from the latest checkpoint in --checkpoint-dir")
	start := fs.String("start", "TRIM_HORIZON", "where a fresh start reads each shard: TRIM_HORIZON, LATEST or AT_TIMESTAMP=<RFC 3339 time>")
	bounded := fs.Bool("bounded", false, "deliver the records present when the job starts, then stop")
	par := fs.Int("parallelism", 1, "parallel readers and writers (each writer buffers and writes its own objects)")
	atLeastOnce := fs.Bool("at-least-once", false, "deliver as Firehose does: objects visible at once, repeated after a failure")
	progress := fs.Duration("progress", 10*time.Second, "how often to print progress (0: never)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	switch {
	case *configFile == "":
		return usageError("--config FILE is required")
	case *source == "":
		return usageError("--source STREAM is required")
	case *logDir == "":
		return usageError("--log-dir DIR is required")
	case *chkDir == "" && !*atLeastOnce:
		return usageError("--checkpoint-dir DIR is required: exactly-once delivery commits at checkpoints (or pass --at-least-once)")
	case *resume && *chkDir == "":
		return usageError("--resume needs --checkpoint-dir")
	case *par < 1:
		return usageError("--parallelism must be positive")
	case *chkInterval < 0:
		return usageError("--checkpoint-interval must not be negative")
	}
	startPos, err := parseStart(*start)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(*configFile)
	if err != nil {
		return err
	}
	cfg, err := firehose.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *configFile, err)
	}
	interval := *chkInterval
	if interval == 0 && *chkDir != "" {
		interval = time.Second
		if iv := cfg.Buffering.IntervalInSeconds; iv == nil {
			interval = firehose.DefaultIntervalInSeconds * time.Second
		} else if *iv > 1 {
			interval = time.Duration(*iv) * time.Second
		}
	}
	if *chkDir != "" && !*resume {
		// Starting over beside checkpoints of an earlier run would deliver
		// its records again.
		if ids, err := (engine.LocalStorage{Dir: *chkDir}).List(); err == nil && len(ids) > 0 {
			return usageError("%s holds checkpoints of an earlier run: pass --resume to continue it, or remove the directory to start over", *chkDir)
		}
	}

	if _, err := os.Stat(*logDir); os.IsNotExist(err) && *createShards == 0 {
		// Opening would create an empty log there, only to report that the
		// stream is missing; a mistyped path should leave nothing behind.
		return fmt.Errorf("log directory %s does not exist (pass --create-shards N to create it with stream %q, or point --log-dir at the --data of 'sluice log serve')", *logDir, *source)
	}
	l, err := shardlog.Open(shardlog.Options{Dir: *logDir})
	if err != nil {
		return err
	}
	defer l.Close()
	ref := shardlog.StreamRef{Name: *source}
	if _, err := l.DescribeStream(ref); err != nil {
		if !errors.Is(err, shardlog.ErrResourceNotFound) || *createShards == 0 {
			return fmt.Errorf("source stream %q: %w (--create-shards N creates it)", *source, err)
		}
		if err := l.CreateStream(shardlog.CreateStreamInput{Name: *source, ShardCount: *createShards}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created stream %q with %d shards\n", *source, *createShards)
	}
	runCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	serveDone := make(chan error, 1)
	if *serve != "" {
		ln, err := net.Listen("tcp", *serve)
		if err != nil {
			return err
		}
		srv := kinesisapi.New(l, kinesisapi.Options{AllowAnonymous: *anonymous, ErrorLog: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
		go func() { serveDone <- srv.Serve(runCtx, ln, nil) }()
		defer func() {
			stopServing()
			<-serveDone
		}()
		fmt.Fprintf(stdout, "serving the log over the Kinesis API on http://%s\n", ln.Addr())
	}

	var corruptMu sync.Mutex // the hook runs on every reading subtask
	src, err := shardconn.NewSource(l, shardconn.SourceOptions{Stream: ref, Start: startPos, Bounded: *bounded, Checkpointed: interval > 0,
		OnCorruptAggregate: func(shard string, seq shardlog.SequenceNumber, err error) {
			corruptMu.Lock()
			defer corruptMu.Unlock()
			fmt.Fprintf(stderr, "%s record %s: %v; delivered whole\n", shard, seq, err)
		}})
	if err != nil {
		return err
	}
	sink, err := firehose.NewSink[shardconn.SourceRecord](cfg, firehose.SinkOptions{AtLeastOnce: *atLeastOnce}, logRecord)
	if err != nil {
		return err
	}
	jc := engine.Config{Parallelism: *par}
	if *chkDir != "" {
		jc.Checkpoint = engine.CheckpointConfig{Dir: *chkDir, Interval: interval, Resume: *resume}
	}
	j := engine.NewJob("firehose-"+cfg.Name, jc)
	// The operator names are their checkpoint uids: a checkpoint of another
	// stream or delivery stream is refused on --resume.
	recs := engine.SourceOf(j, "log:"+*source, src, engine.WatermarkStrategy[shardconn.SourceRecord]{})
	engine.SinkTo(recs, "firehose:"+cfg.Name, sink)

	mode := "exactly once"
	if *atLeastOnce {
		mode = "at least once"
	}
	if interval > 0 {
		mode += fmt.Sprintf(", checkpoints every %s in %s", interval, *chkDir)
	}
	fmt.Fprintf(stdout, "delivering stream %q of %s through %q to %s (%s)\n", *source, *logDir, cfg.Name, destination(cfg), mode)
	// The job is not cancelled with ctx: on ctx.Done a last checkpoint is
	// taken first.
	r, err := j.Start(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	var tick <-chan time.Time
	if *progress > 0 {
		t := time.NewTicker(*progress)
		defer t.Stop()
		tick = t.C
	}
	stopping := false
	for {
		select {
		case <-r.Done():
			err := r.Wait()
			fmt.Fprintf(stdout, "%s\n", firehoseProgress(sink.Stats(), r))
			if stopping && errors.Is(err, engine.ErrJobCancelled) {
				if *chkDir != "" {
					fmt.Fprintf(stdout, "stopped; continue with --resume\n")
				}
				return nil
			}
			return err
		case <-tick:
			fmt.Fprintf(stderr, "%s\n", firehoseProgress(sink.Stats(), r))
		case <-ctx.Done():
			if stopping {
				continue
			}
			stopping = true
			// A last checkpoint commits what the writers buffered, so that
			// a resumed run starts where this one stopped. ctx is done, so
			// the job ends; bound the wait.
			if *chkDir != "" {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				if id, err := r.TriggerCheckpoint(cctx); err != nil {
					fmt.Fprintf(stderr, "last checkpoint: %v\n", err)
				} else {
					// Its commits run on the writers' goroutines.
					for sink.Pending() > 0 && cctx.Err() == nil {
						time.Sleep(10 * time.Millisecond)
					}
					fmt.Fprintf(stdout, "checkpoint %d taken and committed at shutdown\n", id)
				}
				cancel()
			}
			r.Cancel()
		}
	}
}

// logRecord maps a log record to a Firehose record: the log's arrival time
// is the record's arrival time (prefixes are evaluated at it), and the
// partition key, shard and sequence number go to transforms and error
// documents. The source de-aggregates KPL aggregates, as Firehose does: a
// user record also carries its sub-sequence number.
func logRecord(r shardconn.SourceRecord) firehose.Record {
	return firehose.Record{Data: r.Data, ArrivalTime: r.ArrivalTime, PartitionKey: r.PartitionKey, SequenceNumber: r.SequenceNumber.String(),
		ShardID: r.ShardID, SubSequenceNumber: r.SubSequenceNumber, Aggregated: r.Aggregated}
}

func parseStart(s string) (shardlog.StartPosition, error) {
	switch up := strings.ToUpper(s); {
	case up == "TRIM_HORIZON":
		return shardlog.StartPosition{Type: shardlog.TrimHorizon}, nil
	case up == "LATEST":
		return shardlog.StartPosition{Type: shardlog.Latest}, nil
	case strings.HasPrefix(up, "AT_TIMESTAMP="):
		t, err := time.Parse(time.RFC3339, s[len("AT_TIMESTAMP="):])
		if err != nil {
			return shardlog.StartPosition{}, usageError("--start %s: %v", s, err)
		}
		return shardlog.StartPosition{Type: shardlog.AtTimestamp, Timestamp: t}, nil
	}
	return shardlog.StartPosition{}, usageError("--start must be TRIM_HORIZON, LATEST or AT_TIMESTAMP=<time>, not %q", s)
}

func destination(c firehose.Config) string {
	switch {
	case c.S3 != nil:
		ep := c.S3.Endpoint
		if ep == "" {
			ep = "AWS"
		}
		return fmt.Sprintf("s3://%s (%s)", c.S3.Bucket, ep)
	case c.Directory != nil:
		return c.Directory.Path
	case c.HTTPEndpoint != nil:
		return c.HTTPEndpoint.URL
	}
	return "?"
}

func firehoseProgress(st firehose.SinkStats, r *engine.Running) string {
	id, _ := r.LatestCheckpoint()
	s := fmt.Sprintf("records in %d, written %d (%d failed, %d dropped); committed %d records in %d objects (%d error records), checkpoint %d",
		st.Stream.RecordsIn, st.Stream.RecordsDelivered, st.Stream.RecordsFailed, st.Stream.RecordsDropped,
		st.CommittedRecords, st.CommittedObjects, st.CommittedFailed, id)
	if a := r.Attempt(); a > 0 {
		s += fmt.Sprintf(", %d restarts", a)
	}
	return s
}

func firehoseValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("firehose validate", stderr)
	setUsage(fs, "sluice firehose validate FILE",
		"Checks a delivery stream configuration (the JSON form of firehose.Config; see examples/firehose/delivery.json) and prints it with every default filled in. Errors name the JSON key, or give the line and column of malformed JSON.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("sluice firehose validate FILE")
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	cfg, err := firehose.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	cfg.EnsureDefaults()
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return nil
}
