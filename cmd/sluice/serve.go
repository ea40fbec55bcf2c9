package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/sluicehq/sluice/internal/service"
)

func init() {
	register(&command{name: "serve", summary: "run Sluice as one service: the Kinesis and Firehose APIs on one address (sluice serve --data DIR)", run: serveCmd})
}

const serveHelp = `Runs Sluice as one service on one address: the log over the Kinesis Data
Streams API and delivery streams over the Firehose API, told apart by
X-Amz-Target as AWS does. Unchanged AWS SDKs and the AWS CLI work with an
endpoint override (aws firehose put-record --endpoint-url http://ADDR ...).

Delivery streams are created with CreateDeliveryStream (DirectPut, or a
Kinesis stream of this server as source) or listed in --config. A record
acknowledged by PutRecord or PutRecordBatch is in the service's log before
the answer, and delivered exactly once to S3 or a directory, across crashes.
S3 destinations go to --s3-endpoint, or else to DIR/buckets/BUCKET. Objects
become visible at each delivery checkpoint (the buffering interval, at
least 1 s, or --checkpoint-interval).

Jobs (SQL pipelines, registered Go jobs) are submitted with 'sluice job'
or the REST API (/v1/jobs, docs/service.md); each checkpoints under
DIR/jobs/ID and is started again from its latest checkpoint when the
service restarts. GET /v1/... is the REST API.

GET /metrics on the same address serves Prometheus metrics (records and
bytes in per stream, shard and delivery stream, records and objects
delivered, delivery failures, API latency histograms and errors).

SIGTERM or Ctrl-C stops cleanly: a last checkpoint of every job and of
each delivery stream (what it buffered is delivered), and the logs are
closed.

Flags:
`

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveHelp)
		fs.PrintDefaults()
	}
	dir := fs.String("data", "", "data directory (required)")
	addr := fs.String("addr", service.DefaultAddr, "listen address")
	configFile := fs.String("config", "", "JSON file of streams and delivery streams to create at start (what exists is left alone)")
	s3Endpoint := fs.String("s3-endpoint", "", "S3-compatible endpoint of the S3 destinations' buckets (credentials from the AWS environment/config); default: a directory per bucket under --data")
	s3Region := fs.String("s3-region", "us-east-1", "region of --s3-endpoint")
	anonymous := fs.Bool("anonymous", false, "accept requests without a signature")
	credFile := fs.String("credentials", "", "JSON file of the accepted access keys and their policies (as for 'sluice log serve'): every request's SigV4 signature is verified, for both APIs")
	videoOn := fs.Bool("video", true, "serve Kinesis Video Streams' APIs too (data in DIR/video)")
	chk := fs.Duration("checkpoint-interval", 0, "delivery checkpoint interval, when objects become visible (default: each delivery stream's buffering interval, at least 1s)")
	jobChk := fs.Duration("job-checkpoint-interval", 10*time.Second, "checkpoint interval of a job whose SQL or config does not set execution.checkpointing.interval")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError("unexpected arguments %q", fs.Args())
	case *dir == "":
		return usageError("--data DIR is required")
	case *chk < 0:
		return usageError("--checkpoint-interval must not be negative")
	}
	if *credFile != "" && *anonymous {
		return usageError("--credentials and --anonymous exclude each other")
	}
	var cfg service.Config
	if *configFile != "" {
		var err error
		if cfg, err = service.ReadConfig(*configFile); err != nil {
			return fmt.Errorf("%s: %w", *configFile, err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	svc, err := service.Open(ctx, service.Options{
		Dir: *dir, S3Endpoint: *s3Endpoint, S3Region: *s3Region, AllowAnonymous: *anonymous, CredentialsFile: *credFile, CheckpointInterval: *chk, JobCheckpointInterval: *jobChk,
		ErrorLog:      func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) },
		TriggerSource: kinesisSource, Video: *videoOn,
	})
	if err != nil {
		return err
	}
	closeSvc := func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		return svc.Close(cctx)
	}
	created, err := svc.Apply(ctx, cfg)
	for _, c := range created {
		fmt.Fprintf(stdout, "created %s\n", c)
	}
	if err != nil {
		closeSvc()
		return fmt.Errorf("%s: %w", *configFile, err)
	}
	fmt.Fprintf(stdout, "serving the Kinesis and Firehose APIs on http://%s (data in %s)\n", ln.Addr(), *dir)
	serveErr := svc.Serve(ctx, ln)
	closeErr := closeSvc()
	if serveErr != nil {
		return serveErr
	}
	if closeErr != nil {
		return closeErr
	}
	fmt.Fprintf(stdout, "stopped: delivery checkpointed, logs closed\n")
	return nil
}
