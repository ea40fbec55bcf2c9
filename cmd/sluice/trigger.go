package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
	"github.com/sluicehq/sluice/connectors/trigger"
)

func init() {
	registerGroup("trigger", "Lambda-style triggers on streams of the log: create, list, delete, run", []*command{
		{"create", "store a trigger: sluice trigger create --data DIR --name N --stream S (--url URL | --command CMD) --starting-position P", triggerCreate},
		{"list", "list the stored triggers and their shard positions: sluice trigger list --data DIR", triggerList},
		{"delete", "delete a stored trigger and its positions: sluice trigger delete --data DIR NAME", triggerDelete},
		{"run", "run every stored trigger over the log: sluice trigger run --data DIR [--addr HOST:PORT]", triggerRun},
	})
}

// optionalInt is an int flag that knows whether it was given.
type optionalInt struct{ v *int }

func (o *optionalInt) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.Itoa(*o.v)
}

func (o *optionalInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	o.v = &v
	return nil
}

func triggerCreate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trigger create", stderr)
	setUsage(fs, "sluice trigger create --data DIR (--definition FILE | --name N --stream S (--url URL | --command CMD) --starting-position P [settings])",
		"Stores a trigger (a Lambda event source mapping) under the data directory; 'sluice trigger run' runs it.\n"+
			"Settings have the names of 'aws lambda create-event-source-mapping', with Lambda's defaults and ranges.\n"+
			"--definition reads the trigger as JSON with CreateEventSourceMapping's field names (see docs/triggers.md).")
	dir := fs.String("data", "", "data directory of the log (required)")
	def := fs.String("definition", "", "JSON file of the trigger (instead of the flags below)")
	name := fs.String("name", "", "the trigger's name")
	stream := fs.String("stream", "", "the stream of the log to read")
	arn := fs.String("event-source-arn", "", "the stream's ARN (instead of --stream)")
	endpoint := fs.String("endpoint", "", "read the stream through this Kinesis API endpoint (the AWS service, a 'sluice log serve' elsewhere) instead of the data directory's log")
	region := fs.String("region", "us-east-1", "the log's region (with --stream)")
	account := fs.String("account", "000000000000", "the log's account id (with --stream)")
	url := fs.String("url", "", "the function: an HTTP endpoint that gets each event as a POST")
	command := fs.String("command", "", "the function: a shell command (sh -c) that reads each event on stdin; exit status 0 and stdout are its answer")
	timeout := &optionalInt{}
	fs.Var(timeout, "timeout", "seconds one call may take (1-900, default 60)")
	start := fs.String("starting-position", "", "TRIM_HORIZON, LATEST or AT_TIMESTAMP (required)")
	var startTS optionalFloat
	fs.Var(&startTS, "starting-position-timestamp", "Unix seconds to start at, with AT_TIMESTAMP")
	batch, window, parallel, retries, age := &optionalInt{}, &optionalInt{}, &optionalInt{}, &optionalInt{}, &optionalInt{}
	fs.Var(batch, "batch-size", "records per call (1-10000, default 100)")
	fs.Var(window, "maximum-batching-window-in-seconds", "how long to gather a batch (0-300, default 0)")
	fs.Var(parallel, "parallelization-factor", "concurrent batches per shard (1-10, default 1)")
	fs.Var(retries, "maximum-retry-attempts", "retries of a failing batch (-1 infinite, 0-10000; default -1)")
	fs.Var(age, "maximum-record-age-in-seconds", "give up records older than this (-1 infinite, 60-604800; default -1)")
	bisect := fs.Bool("bisect-batch-on-function-error", false, "split a failing batch in two")
	responseTypes := fs.String("function-response-types", "", "ReportBatchItemFailures: the function may answer with batchItemFailures")
	onFailure := fs.String("on-failure", "", "where batches given up go: a stream ARN of the log or file:///absolute/dir")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageError("--data DIR is required")
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	var cfg trigger.Config
	if *def != "" {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || (f.Name != "data" && f.Name != "definition") })
		if set {
			return usageError("--definition takes no other setting flags")
		}
		data, err := os.ReadFile(*def)
		if err != nil {
			return err
		}
		if cfg, err = trigger.ParseConfig(data); err != nil {
			return err
		}
	} else {
		if *stream != "" && *arn != "" {
			return usageError("--stream and --event-source-arn exclude each other")
		}
		if *stream != "" {
			*arn = trigger.StreamARN(*region, *account, *stream)
		}
		cfg = trigger.Config{
			Name: *name, EventSourceArn: *arn, Endpoint: *endpoint, StartingPosition: *start, StartingPositionTimestamp: startTS.v,
			Function:  trigger.Function{URL: *url, TimeoutSeconds: timeout.v},
			BatchSize: batch.v, MaximumBatchingWindowInSeconds: window.v, ParallelizationFactor: parallel.v,
			MaximumRetryAttempts: retries.v, MaximumRecordAgeInSeconds: age.v, BisectBatchOnFunctionError: *bisect,
		}
		if *command != "" {
			cfg.Function.Command = []string{"/bin/sh", "-c", *command}
		}
		if *responseTypes != "" {
			cfg.FunctionResponseTypes = strings.Split(*responseTypes, ",")
		}
		if *onFailure != "" {
			cfg.DestinationConfig = &trigger.DestinationConfig{OnFailure: &trigger.OnFailure{Destination: *onFailure}}
		}
	}
	st, err := trigger.OpenStore(*dir)
	if err != nil {
		return err
	}
	cfg, err = st.Create(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trigger %s: %s -> %s (BatchSize %d, StartingPosition %s)\n", cfg.Name, cfg.EventSourceArn, functionText(cfg.Function), *cfg.BatchSize, cfg.StartingPosition)
	return nil
}

// optionalFloat is a float flag that knows whether it was given.
type optionalFloat struct{ v *float64 }

func (o *optionalFloat) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.FormatFloat(*o.v, 'f', -1, 64)
}

func (o *optionalFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	o.v = &v
	return nil
}

func functionText(f trigger.Function) string {
	if f.URL != "" {
		return f.URL
	}
	if len(f.Command) == 3 && f.Command[0] == "/bin/sh" && f.Command[1] == "-c" {
		return "command " + strconv.Quote(f.Command[2])
	}
	return "command " + strings.Join(f.Command, " ")
}

func triggerList(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trigger list", stderr)
	setUsage(fs, "sluice trigger list --data DIR [--json]", "Lists the stored triggers, with each shard's checkpointed position.")
	dir := fs.String("data", "", "data directory of the log (required)")
	asJSON := fs.Bool("json", false, "print the definitions and positions as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageError("--data DIR is required")
	}
	st, err := trigger.OpenStore(*dir)
	if err != nil {
		return err
	}
	cfgs, err := st.List()
	if err != nil {
		return err
	}
	type entry struct {
		Config    trigger.Config                   `json:"Config"`
		Positions map[string]trigger.ShardPosition `json:"Positions"`
	}
	var out []entry
	for _, c := range cfgs {
		p, err := st.Positions(c.Name)
		if err != nil {
			return err
		}
		out = append(out, entry{c, p})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if out == nil {
			out = []entry{}
		}
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tFUNCTION\tSHARDS\tFINISHED")
	for _, e := range out {
		fin := 0
		for _, p := range e.Positions {
			if p.Finished {
				fin++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", e.Config.Name, e.Config.EventSourceArn, functionText(e.Config.Function), len(e.Positions), fin)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range out {
		ids := make([]string, 0, len(e.Positions))
		for id := range e.Positions {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			p := e.Positions[id]
			state := "after " + p.SequenceNumber
			if p.Finished {
				state = "finished"
			}
			fmt.Fprintf(stdout, "  %s %s: %s\n", e.Config.Name, id, state)
		}
	}
	return nil
}

func triggerDelete(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trigger delete", stderr)
	setUsage(fs, "sluice trigger delete --data DIR NAME", "Deletes a stored trigger and its positions (stop 'sluice trigger run' first).")
	dir := fs.String("data", "", "data directory of the log (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageError("--data DIR is required")
	}
	if fs.NArg() != 1 {
		return usageError("sluice trigger delete takes one trigger name")
	}
	st, err := trigger.OpenStore(*dir)
	if err != nil {
		return err
	}
	if err := st.Delete(fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trigger %s deleted\n", fs.Arg(0))
	return nil
}

func triggerRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trigger run", stderr)
	setUsage(fs, "sluice trigger run --data DIR [--addr HOST:PORT]",
		"Opens the log in DIR and runs every stored trigger until interrupted; a restart resumes each shard\n"+
			"from its checkpoint. With --addr it also serves the log's Kinesis API there (loopback only, any\n"+
			"signed request accepted), so that producers can put records while the triggers run.")
	dir := fs.String("data", "", "data directory of the log (required)")
	addr := fs.String("addr", "", "also serve the Kinesis API on this loopback address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageError("--data DIR is required")
	}
	if *addr != "" {
		if _, err := serveAuthMode(*addr, "", false); err != nil {
			return err
		}
	}
	st, err := trigger.OpenStore(*dir)
	if err != nil {
		return err
	}
	cfgs, err := st.List()
	if err != nil {
		return err
	}
	if len(cfgs) == 0 {
		return fmt.Errorf("no triggers stored in %s: create one with 'sluice trigger create'", *dir)
	}
	var mu sync.Mutex
	logf := func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, f+"\n", a...)
	}
	// The log is opened when a trigger reads it or it is to be served: a
	// data directory whose triggers all read Kinesis endpoints may be
	// served by 'sluice log serve' meanwhile.
	needLog := *addr != ""
	for _, c := range cfgs {
		needLog = needLog || c.Endpoint == ""
	}
	var l *shardlog.Log
	if needLog {
		l, err = shardlog.Open(shardlog.Options{Dir: *dir, ErrorLog: logf})
		if err != nil {
			return fmt.Errorf("open %s (stop 'sluice log serve' on it first, or use --addr to serve it from here): %w", *dir, err)
		}
		defer l.Close()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	host := trigger.NewHost(l, st, trigger.HostOptions{Logf: logf, NewSource: kinesisSource})
	defer host.StopAll()
	if err := host.StartAll(ctx); err != nil {
		return err
	}
	names := make([]string, len(cfgs))
	for i, c := range cfgs {
		names[i] = c.Name
	}
	fmt.Fprintf(stdout, "sluice trigger: running %d (%s) over %s\n", len(cfgs), strings.Join(names, ", "), *dir)
	if *addr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sluice trigger: serving the log's Kinesis API on http://%s\n", ln.Addr())
	err = kinesisapi.New(l, kinesisapi.Options{ErrorLog: logf}).Serve(ctx, ln, nil)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// kinesisSource reads a trigger's stream through its Endpoint, signing
// with clientCredentials as the log client commands do.
func kinesisSource(cfg trigger.Config) (trigger.Source, error) {
	region, _, stream, ok := trigger.ParseStreamARN(cfg.EventSourceArn)
	if !ok {
		return nil, fmt.Errorf("trigger %s: %q is not a stream ARN", cfg.Name, cfg.EventSourceArn)
	}
	c := kinesis.New(kinesis.Options{Region: region, BaseEndpoint: aws.String(cfg.Endpoint), Credentials: clientCredentials()})
	return &trigger.KinesisSource{Client: c, Stream: stream}, nil
}
