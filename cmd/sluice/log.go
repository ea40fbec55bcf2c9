package main

// `sluice log ...`: serve the built-in sharded log over the Kinesis API, and
// small client commands that talk to such a server through the AWS SDK (so
// they work against Kinesis itself too).

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	kinesisconn "github.com/sluicehq/sluice/connectors/kinesis"
	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
)

func init() {
	registerGroup("log", "the built-in sharded log: serve, create, put, get, describe, split, merge, tail, check, repair", []*command{
		{"serve", "serve the sharded log over the Kinesis API (HTTP/1.1, h2c, TLS)", logServe},
		{"check", "verify every stored record of a log directory (not being served): sluice log check --data DIR", logCheck},
		{"repair", "repair damaged records of a log directory (not being served): sluice log repair --data DIR --skip|--salvage", logRepair},
		{"create", "create a stream: sluice log create STREAM --shards N", clientErrors(logCreate)},
		{"put", "put records: sluice log put STREAM [--key K] [--aggregate] [DATA ...] (else lines of stdin)", clientErrors(logPut)},
		{"get", "read a stream once, every shard: sluice log get STREAM [--shard ID] [--from POS]", clientErrors(logGet)},
		{"describe", "describe a stream and its shards", clientErrors(logDescribe)},
		{"split", "split a shard: sluice log split STREAM SHARD [--hash-key K]", clientErrors(logSplit)},
		{"merge", "merge two adjacent shards: sluice log merge STREAM SHARD ADJACENT", clientErrors(logMerge)},
		{"tail", "follow every shard of a stream, across resharding", clientErrors(logTail)},
	})
}

// clientErrors makes the errors of the Kinesis client readable: the SDK
// says "https response error StatusCode: 0 ... request send failed" for a
// server that is not there, even over plain HTTP, and wraps the service's
// error in retry bookkeeping. A command says which operation failed and
// either the service's error code and message or why the endpoint could not
// be reached.
func clientErrors(run func(context.Context, []string, io.Writer, io.Writer) error) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return explainClientError(run(ctx, args, stdout, stderr))
	}
}

func explainClientError(err error) error {
	if err == nil || errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return err
	}
	var op *smithy.OperationError
	if !errors.As(err, &op) {
		return err
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return fmt.Errorf("%s: %s: %s", op.Operation(), api.ErrorCode(), api.ErrorMessage())
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("%s: cannot reach %s: %w (is 'sluice log serve' running there? set --endpoint or $SLUICE_LOG_ENDPOINT)", op.Operation(), endpointOf(uerr.URL), errors.Unwrap(uerr))
	}
	return fmt.Errorf("%s: %w", op.Operation(), op.Err)
}

// endpointOf strips a request URL to scheme and host.
func endpointOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

func logServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log serve", stderr)
	addr := fs.String("addr", "127.0.0.1:4567", "listen address")
	dir := fs.String("data", "", "data directory (required)")
	certFile := fs.String("tls-cert", "", "TLS certificate (PEM); with --tls-key serves HTTPS")
	keyFile := fs.String("tls-key", "", "TLS private key (PEM)")
	selfSigned := fs.Bool("tls-self-signed", false, "serve HTTPS with a fresh self-signed certificate")
	limits := fs.String("limits", "kinesis", "per-shard throughput limits: kinesis or off")
	sync := fs.String("sync", "always", "acknowledge puts after fsync (always) or after write (none)")
	statusDelay := fs.Duration("status-delay", 0, "how long streams stay CREATING/UPDATING/DELETING")
	credFile := fs.String("credentials", "", "JSON file of the accepted access keys (and their policies): every request's SigV4 signature is verified")
	anonymous := fs.Bool("anonymous", false, "no authentication: accept every request, signed or not")
	fs.BoolVar(anonymous, "allow-anonymous", false, "the former name of --anonymous")
	segment := fs.Int64("segment-bytes", 64<<20, "segment file size")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageError("--data DIR is required")
	}
	auth, err := serveAuthMode(*addr, *credFile, *anonymous)
	if err != nil {
		return err
	}
	if (*certFile == "") != (*keyFile == "") {
		return usageError("--tls-cert and --tls-key go together")
	}
	if *certFile != "" && *selfSigned {
		return usageError("--tls-self-signed and --tls-cert/--tls-key exclude each other")
	}
	opts := shardlog.Options{Dir: *dir, StatusDelay: *statusDelay, SegmentBytes: *segment,
		ErrorLog: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }}
	switch *limits {
	case "kinesis":
		l := shardlog.KinesisLimits
		opts.Limits = &l
	case "off":
	default:
		return usageError("--limits must be kinesis or off")
	}
	switch *sync {
	case "always":
	case "none":
		opts.Sync = shardlog.SyncNone
	default:
		return usageError("--sync must be always or none")
	}
	var tlsConf *tls.Config
	switch {
	case *certFile != "" || *keyFile != "":
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("load TLS key pair: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	case *selfSigned:
		host, _, _ := net.SplitHostPort(*addr)
		var err error
		if tlsConf, _, err = kinesisapi.SelfSignedTLS(host, "localhost"); err != nil {
			return err
		}
	}
	l, err := shardlog.Open(opts)
	if err != nil {
		return err
	}
	defer l.Close()
	srvOpts := kinesisapi.Options{AllowAnonymous: auth == authAnonymous, ErrorLog: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }}
	if auth == authCredentials {
		if srvOpts.Credentials, err = kinesisapi.LoadCredentials(*credFile, l.Options().AccountID); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	switch auth {
	case authDevelopment:
		fmt.Fprintf(stderr, "sluice log: no --credentials: any signed request is accepted (development mode, loopback only)\n")
	case authAnonymous:
		fmt.Fprintf(stderr, "sluice log: --anonymous: requests are not authenticated\n")
	}
	fmt.Fprintf(stdout, "sluice log: serving %s on %s://%s (HTTP/1.1, HTTP/2)\n", *dir, scheme, ln.Addr())
	return kinesisapi.New(l, srvOpts).Serve(ctx, ln, tlsConf)
}

// How `log serve` authenticates.
type authMode int

const (
	// authDevelopment: no credentials configured, loopback only; a
	// request must be signed, by any key.
	authDevelopment authMode = iota
	authCredentials
	authAnonymous
)

// serveAuthMode decides how `log serve` authenticates: with --credentials
// every signature is verified; --anonymous turns authentication off;
// with neither, the server accepts any signed request, which it allows
// only on a loopback address (development on one machine), so that a
// server reachable from the network is never open by default.
func serveAuthMode(addr, credFile string, anonymous bool) (authMode, error) {
	switch {
	case credFile != "" && anonymous:
		return 0, usageError("--credentials and --anonymous exclude each other")
	case credFile != "":
		return authCredentials, nil
	case anonymous:
		return authAnonymous, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, usageError("--addr %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return 0, usageError("--addr %s is not a loopback address: pass --credentials FILE (or --anonymous to serve without authentication)", addr)
	}
	return authDevelopment, nil
}

// errDamaged is the error of `sluice log check` when it finds damage.
var errDamaged = errors.New("the log has damaged records")

// openOffline opens a log directory for an operator command: no janitor,
// and what recovery does is told on stderr.
func openOffline(dir string, stderr io.Writer) (*shardlog.Log, error) {
	l, err := shardlog.Open(shardlog.Options{Dir: dir, RetentionInterval: -1,
		ErrorLog: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
	if err != nil {
		return nil, fmt.Errorf("open %s (stop 'sluice log serve' on it first): %w", dir, err)
	}
	return l, nil
}

// logCheck reads every stored batch of a log directory in full and lists
// the damage: the shard, the offsets, the file and position. It fails when
// there is any.
func logCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log check", stderr)
	dir := fs.String("data", "", "data directory (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageError("--data DIR is required")
	}
	l, err := openOffline(*dir, stderr)
	if err != nil {
		return err
	}
	defer l.Close()
	ds, err := l.Verify()
	if err != nil {
		return err
	}
	for _, d := range ds {
		fmt.Fprintln(stdout, d)
	}
	if len(ds) > 0 {
		return fmt.Errorf("%w: %d damaged ranges (repair with 'sluice log repair --data %s --skip' or '--salvage')", errDamaged, len(ds), *dir)
	}
	fmt.Fprintln(stdout, "sluice log: no damage")
	return nil
}

// logRepair repairs every damaged range of a log directory: --skip drops
// the damaged records (their positions become a gap readers step over),
// --salvage keeps those of a batch whose framing holds (their bytes may be
// wrong) and skips the rest.
func logRepair(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log repair", stderr)
	dir := fs.String("data", "", "data directory (required)")
	skip := fs.Bool("skip", false, "drop damaged records")
	salvage := fs.Bool("salvage", false, "keep what can be framed of damaged batches, drop the rest")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageError("--data DIR is required")
	}
	var mode shardlog.RepairMode
	switch {
	case *skip && *salvage:
		return usageError("give one of --skip and --salvage")
	case *skip:
		mode = shardlog.RepairSkip
	case *salvage:
		mode = shardlog.RepairSalvage
	default:
		return usageError("--skip or --salvage is required")
	}
	l, err := openOffline(*dir, stderr)
	if err != nil {
		return err
	}
	defer l.Close()
	done, err := l.Repair(mode)
	for _, r := range done {
		fmt.Fprintln(stdout, r)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sluice log: %d damaged ranges repaired\n", len(done))
	return nil
}

// logClient returns a Kinesis client for --endpoint (default
// $SLUICE_LOG_ENDPOINT or http://127.0.0.1:4567).
func logClientFlags(fs *flag.FlagSet) func() *kinesis.Client {
	def := os.Getenv("SLUICE_LOG_ENDPOINT")
	if def == "" {
		def = "http://127.0.0.1:4567"
	}
	endpoint := fs.String("endpoint", def, "Kinesis API endpoint ($SLUICE_LOG_ENDPOINT)")
	region := fs.String("region", "us-east-1", "region")
	insecure := fs.Bool("insecure", false, "skip TLS certificate verification")
	return func() *kinesis.Client {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if *insecure {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		}
		return kinesis.New(kinesis.Options{
			Region:       *region,
			BaseEndpoint: aws.String(*endpoint),
			Credentials:  clientCredentials(),
			HTTPClient:   &http.Client{Transport: tr},
		})
	}
}

// clientCredentials are the keys the client commands sign with:
// $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY and $AWS_SESSION_TOKEN when
// set (a server with --credentials, or Kinesis itself), else a
// placeholder key that a server without credentials accepts.
func clientCredentials() aws.CredentialsProvider {
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return credentials.NewStaticCredentialsProvider("sluice", "sluice", "")
	}
	return credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))
}

func streamArg(fs *flag.FlagSet, n int) ([]string, error) {
	if fs.NArg() < n {
		return nil, usageError("expected %d argument(s), got %d", n, fs.NArg())
	}
	return fs.Args(), nil
}

// parseInterleaved parses flags that may come after positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func logCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log create", stderr)
	client := logClientFlags(fs)
	shards := fs.Int("shards", 1, "shard count (provisioned mode)")
	onDemand := fs.Bool("on-demand", false, "ON_DEMAND capacity mode")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("sluice log create STREAM --shards N")
	}
	in := &kinesis.CreateStreamInput{StreamName: aws.String(pos[0])}
	if *onDemand {
		in.StreamModeDetails = &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}
	} else {
		in.ShardCount = aws.Int32(int32(*shards))
	}
	c := client()
	if _, err := c.CreateStream(ctx, in); err != nil {
		return err
	}
	w := kinesis.NewStreamExistsWaiter(c, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: in.StreamName}, time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s\n", pos[0])
	return nil
}

func logPut(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log put", stderr)
	client := logClientFlags(fs)
	key := fs.String("key", "", "partition key (default: a counter per record)")
	hashKey := fs.String("hash-key", "", "explicit hash key")
	aggregate := fs.Bool("aggregate", false, "pack the records into KPL aggregates per shard, as the Kinesis Producer Library does")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return usageError("sluice log put STREAM [--key K] [--aggregate] [DATA ...]")
	}
	stream, data := pos[0], pos[1:]
	c := client()
	if *aggregate {
		return putAggregated(ctx, c, stream, *key, *hashKey, data, stdout)
	}
	var batch []types.PutRecordsRequestEntry
	n := 0
	flush := func() error {
		for len(batch) > 0 {
			out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: batch})
			if err != nil {
				return err
			}
			var retry []types.PutRecordsRequestEntry
			for i, r := range out.Records {
				if r.ErrorCode != nil {
					retry = append(retry, batch[i])
					continue
				}
				fmt.Fprintf(stdout, "%s %s\n", *r.ShardId, *r.SequenceNumber)
			}
			batch = retry
			if len(retry) > 0 {
				// Throttled: back off and send the rest again.
				select {
				case <-time.After(200 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	}
	add := func(d []byte) error {
		k := *key
		if k == "" {
			k = fmt.Sprint(n)
		}
		n++
		e := types.PutRecordsRequestEntry{PartitionKey: aws.String(k), Data: d}
		if *hashKey != "" {
			e.ExplicitHashKey = hashKey
		}
		batch = append(batch, e)
		if len(batch) == 500 {
			return flush()
		}
		return nil
	}
	if len(data) > 0 {
		for _, d := range data {
			if err := add([]byte(d)); err != nil {
				return err
			}
		}
	} else {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20+1)
		for sc.Scan() {
			if err := add(append([]byte(nil), sc.Bytes()...)); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return err
		}
	}
	return flush()
}

// parseFrom turns --from into a shard iterator position: trim_horizon,
// latest, at:SEQ, after:SEQ or ts:RFC3339.
func parseFrom(s string) (*kinesis.GetShardIteratorInput, error) {
	in := &kinesis.GetShardIteratorInput{}
	low := strings.ToLower(s)
	switch {
	case low == "trim_horizon" || low == "trim-horizon" || low == "earliest":
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	case low == "latest":
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	case strings.HasPrefix(low, "at:"):
		in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAtSequenceNumber, aws.String(s[3:])
	case strings.HasPrefix(low, "after:"):
		in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(s[6:])
	case strings.HasPrefix(low, "ts:"):
		t, err := time.Parse(time.RFC3339Nano, s[3:])
		if err != nil {
			return nil, usageError("--from ts: wants RFC 3339: %v", err)
		}
		in.ShardIteratorType, in.Timestamp = types.ShardIteratorTypeAtTimestamp, aws.Time(t)
	default:
		return nil, usageError("--from must be trim_horizon, latest, at:SEQ, after:SEQ or ts:RFC3339")
	}
	return in, nil
}

type printedRecord struct {
	Shard        string    `json:"shard"`
	Sequence     string    `json:"sequence_number"`
	SubSequence  *uint64   `json:"sub_sequence_number,omitempty"`
	PartitionKey string    `json:"partition_key"`
	HashKey      string    `json:"explicit_hash_key,omitempty"`
	Arrival      time.Time `json:"arrival"`
	Data         string    `json:"data"`
	Base64       bool      `json:"base64,omitempty"`
}

// recordPrinter prints records, each KPL aggregate as its user records
// (sequence number SEQ/SUB in text, sub_sequence_number in JSON) unless
// raw. A corrupt aggregate is printed whole, with a line on stderr.
type recordPrinter struct {
	w, errw     io.Writer
	asJSON, raw bool
	deagg       kpl.Deaggregator
	users       []kpl.UserRecord
}

func (p *recordPrinter) addFlags(fs *flag.FlagSet) {
	fs.BoolVar(&p.asJSON, "json", false, "print JSON lines")
	fs.BoolVar(&p.raw, "raw", false, "print KPL-aggregated records as they are stored instead of their user records")
}

// print prints r, at most limit lines of it when limit > 0, and returns
// how many lines it printed.
func (p *recordPrinter) print(shard string, r types.Record, limit int) int {
	seq := aws.ToString(r.SequenceNumber)
	base := printedRecord{Shard: shard, Sequence: seq, PartitionKey: aws.ToString(r.PartitionKey), Arrival: aws.ToTime(r.ApproximateArrivalTimestamp).UTC()}
	if p.raw || !kpl.IsAggregated(r.Data) {
		p.line(base, r.Data)
		return 1
	}
	users, ce := p.deagg.Append(p.users[:0], base.PartitionKey, "", r.Data)
	p.users = users
	if ce != nil {
		fmt.Fprintf(p.errw, "sluice log: %s record %s: %v; printed whole\n", shard, seq, ce)
		p.line(base, r.Data)
		return 1
	}
	if limit > 0 && len(users) > limit {
		users = users[:limit]
	}
	for i := range users {
		u := &users[i]
		rec := base
		sub := u.SubSequenceNumber
		rec.SubSequence, rec.PartitionKey, rec.HashKey = &sub, u.PartitionKey, u.ExplicitHashKey
		p.line(rec, u.Data)
	}
	return len(users)
}

func (p *recordPrinter) line(rec printedRecord, data []byte) {
	if utf8.Valid(data) {
		rec.Data = string(data)
	} else {
		rec.Data, rec.Base64 = base64.StdEncoding.EncodeToString(data), true
	}
	if p.asJSON {
		b, _ := json.Marshal(rec)
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	seq := rec.Sequence
	if rec.SubSequence != nil {
		seq += "/" + strconv.FormatUint(*rec.SubSequence, 10)
	}
	fmt.Fprintf(p.w, "%s\t%s\t%s\t%s\n", rec.Shard, seq, rec.PartitionKey, rec.Data)
}

func logGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log get", stderr)
	client := logClientFlags(fs)
	shard := fs.String("shard", "", "read only this shard (default: every shard, in shard order)")
	from := fs.String("from", "trim_horizon", "trim_horizon, latest, at:SEQ, after:SEQ or ts:RFC3339")
	limit := fs.Int("limit", 1000, "records at most, per shard")
	pr := &recordPrinter{w: stdout, errw: stderr}
	pr.addFlags(fs)
	setUsage(fs, "sluice log get STREAM [--shard ID] [--from POS]",
		"Reads the records of a stream once and prints one line per record: shard, sequence number, partition key, data.\n"+
			"A KPL-aggregated record is printed as its user records, sequence number SEQ/SUB (--raw: as stored).")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("sluice log get STREAM [--shard ID] [--from POS]")
	}
	c := client()
	shards := []string{*shard}
	if *shard == "" {
		if shards, err = listShardIDs(ctx, c, pos[0]); err != nil {
			return err
		}
	}
	total := 0
	for _, id := range shards {
		n, err := getShard(ctx, c, pos[0], id, *from, *limit, pr)
		if err != nil {
			return err
		}
		total += n
	}
	if total == 0 && !pr.asJSON {
		fmt.Fprintf(stderr, "no records in %s from %s (%d shards read)\n", pos[0], *from, len(shards))
	}
	return nil
}

// listShardIDs returns every shard of the stream, open and closed, in the
// order ListShards gives them (parents before children).
func listShardIDs(ctx context.Context, c *kinesis.Client, stream string) ([]string, error) {
	var ids []string
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, sh := range out.Shards {
			ids = append(ids, aws.ToString(sh.ShardId))
		}
		if out.NextToken == nil {
			return ids, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// getShard prints up to limit records of one shard from position from and
// returns how many it printed.
func getShard(ctx context.Context, c *kinesis.Client, stream, shard, from string, limit int, pr *recordPrinter) (int, error) {
	in, err := parseFrom(from)
	if err != nil {
		return 0, err
	}
	in.StreamName, in.ShardId = aws.String(stream), aws.String(shard)
	it, err := c.GetShardIterator(ctx, in)
	if err != nil {
		return 0, err
	}
	iter, left := it.ShardIterator, limit
	for iter != nil && left > 0 {
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(int32(min(left, 10000)))})
		if err != nil {
			return limit - left, err
		}
		for _, r := range out.Records {
			pr.print(shard, r, 0)
		}
		left -= len(out.Records)
		if len(out.Records) == 0 || aws.ToInt64(out.MillisBehindLatest) == 0 && len(out.Records) < 10000 {
			break
		}
		iter = out.NextShardIterator
	}
	return limit - left, nil
}

func logDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log describe", stderr)
	client := logClientFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("sluice log describe STREAM")
	}
	c := client()
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(pos[0])})
	if err != nil {
		return err
	}
	s := sum.StreamDescriptionSummary
	fmt.Fprintf(stdout, "stream %s  %s  %s  retention %dh  open shards %d  consumers %d\n  %s\n",
		*s.StreamName, s.StreamStatus, s.StreamModeDetails.StreamMode, *s.RetentionPeriodHours, *s.OpenShardCount, aws.ToInt32(s.ConsumerCount), *s.StreamARN)
	in := &kinesis.ListShardsInput{StreamName: aws.String(pos[0])}
	for in != nil {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			return err
		}
		in = nil
		if out.NextToken != nil {
			in = &kinesis.ListShardsInput{NextToken: out.NextToken}
		}
		for _, sh := range out.Shards {
			state := "open"
			if sh.SequenceNumberRange.EndingSequenceNumber != nil {
				state = "closed"
			}
			parents := ""
			if sh.ParentShardId != nil {
				parents = " parent " + *sh.ParentShardId
			}
			if sh.AdjacentParentShardId != nil {
				parents += " + " + *sh.AdjacentParentShardId
			}
			fmt.Fprintf(stdout, "  %s %-6s hash [%s, %s]%s\n", *sh.ShardId, state, *sh.HashKeyRange.StartingHashKey, *sh.HashKeyRange.EndingHashKey, parents)
		}
	}
	return nil
}

func logSplit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log split", stderr)
	client := logClientFlags(fs)
	hashKey := fs.String("hash-key", "", "new starting hash key (default: the middle of the shard's range)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError("sluice log split STREAM SHARD [--hash-key K]")
	}
	c := client()
	k := *hashKey
	if k == "" {
		out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(pos[0])})
		if err != nil {
			return err
		}
		for _, sh := range out.Shards {
			if *sh.ShardId == pos[1] {
				a, _ := new(big.Int).SetString(*sh.HashKeyRange.StartingHashKey, 10)
				b, _ := new(big.Int).SetString(*sh.HashKeyRange.EndingHashKey, 10)
				k = a.Add(a, b).Add(a, big.NewInt(1)).Rsh(a, 1).String()
			}
		}
		if k == "" {
			return fmt.Errorf("shard %s not found in %s", pos[1], pos[0])
		}
	}
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(pos[0]), ShardToSplit: aws.String(pos[1]), NewStartingHashKey: aws.String(k)}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "split %s at %s\n", pos[1], k)
	return nil
}

func logMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log merge", stderr)
	client := logClientFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return usageError("sluice log merge STREAM SHARD ADJACENT")
	}
	if _, err := client().MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(pos[0]), ShardToMerge: aws.String(pos[1]), AdjacentShardToMerge: aws.String(pos[2])}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %s and %s\n", pos[1], pos[2])
	return nil
}

// logTail follows every shard: it starts on the open shards (or, with
// --from trim_horizon, on every shard, parents first), polls each with
// GetRecords, and moves to a closed shard's children once it is read to
// its end. It runs until interrupted (or --max records).
func logTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log tail", stderr)
	client := logClientFlags(fs)
	from := fs.String("from", "latest", "where to start each initial shard: latest, trim_horizon or ts:RFC3339")
	poll := fs.Duration("poll", 200*time.Millisecond, "poll interval when a shard has nothing new")
	maxRecs := fs.Int("max", 0, "stop after this many records, user records of KPL aggregates each counted (0: run until interrupted)")
	pr := &recordPrinter{w: stdout, errw: stderr}
	pr.addFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("sluice log tail STREAM")
	}
	startIn, err := parseFrom(*from)
	if err != nil {
		return err
	}
	stream := aws.String(pos[0])
	c := client()
	filter := &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}
	if startIn.ShardIteratorType == types.ShardIteratorTypeTrimHorizon {
		filter.Type = types.ShardFilterTypeAtTrimHorizon
	} else if startIn.ShardIteratorType == types.ShardIteratorTypeAtTimestamp {
		filter = &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: startIn.Timestamp}
	}
	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: stream, ShardFilter: filter})
	if err != nil {
		return err
	}
	type cursor struct {
		shard string
		iter  *string
	}
	var cursors []*cursor
	started := map[string]bool{}
	for _, sh := range ls.Shards {
		in := *startIn
		in.StreamName, in.ShardId = stream, sh.ShardId
		it, err := c.GetShardIterator(ctx, &in)
		if err != nil {
			return err
		}
		cursors = append(cursors, &cursor{*sh.ShardId, it.ShardIterator})
		started[*sh.ShardId] = true
	}
	// A child with two parents waits until both are done.
	parentsLeft := map[string]int{}
	seen := 0
	for len(cursors) > 0 {
		idle := true
		var next []*cursor
		for _, cur := range cursors {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: cur.iter})
			if err != nil {
				var te *types.ProvisionedThroughputExceededException
				if errors.As(err, &te) {
					next = append(next, cur)
					continue
				}
				return err
			}
			for _, r := range out.Records {
				seen += pr.print(cur.shard, r, max(*maxRecs-seen, 0))
				if *maxRecs > 0 && seen >= *maxRecs {
					return nil
				}
			}
			if len(out.Records) > 0 {
				idle = false
			}
			if out.NextShardIterator == nil {
				for _, ch := range out.ChildShards {
					if started[*ch.ShardId] {
						continue
					}
					if _, ok := parentsLeft[*ch.ShardId]; !ok {
						parentsLeft[*ch.ShardId] = len(ch.ParentShards)
					}
					parentsLeft[*ch.ShardId]--
					if parentsLeft[*ch.ShardId] > 0 {
						continue
					}
					it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: stream, ShardId: ch.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
					if err != nil {
						return err
					}
					started[*ch.ShardId] = true
					next = append(next, &cursor{*ch.ShardId, it.ShardIterator})
				}
				idle = false
				continue
			}
			cur.iter = out.NextShardIterator
			next = append(next, cur)
		}
		cursors = next
		if idle {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(*poll):
			}
		}
	}
	return nil
}

// putAggregated puts data (else the lines of stdin) through a kpl.Producer
// and prints how many user records went into how many Kinesis records.
func putAggregated(ctx context.Context, c *kinesis.Client, stream, key, hashKey string, data []string, stdout io.Writer) error {
	p, err := kpl.NewProducer(ctx, kinesisconn.KPLPutRecords(c, stream), kpl.ProducerOptions{ListShards: kinesisconn.KPLListShards(c, stream)})
	if err != nil {
		return err
	}
	n := 0
	add := func(d []byte) error {
		k := key
		if k == "" {
			k = fmt.Sprint(n)
		}
		n++
		return p.Put(ctx, kpl.UserRecord{PartitionKey: k, ExplicitHashKey: hashKey, Data: d})
	}
	if len(data) > 0 {
		for _, d := range data {
			if err := add([]byte(d)); err != nil {
				return err
			}
		}
	} else {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20+1)
		for sc.Scan() {
			if err := add(sc.Bytes()); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return err
		}
	}
	if err := p.Close(ctx); err != nil {
		return err
	}
	st := p.Stats()
	fmt.Fprintf(stdout, "%d user records in %d Kinesis records\n", st.UserRecords, st.KinesisRecords)
	return nil
}
