// Package logbench is `sluice bench log`: the built-in sharded log's
// headline figures.
//
//	log/embedded-append        PutRecords in process, 500 x 100 B, 4 shards, acknowledged after write
//	log/embedded-append-fsync  the same, 4 concurrent producers, acknowledged after fsync (group commit)
//	log/embedded-read          ShardReader over what was appended, 10,000-record batches
//	log/sdk-put                AWS SDK for Go PutRecords over loopback (16 clients, 500 x 100 B) to
//	                           `sluice log serve` in its own process, durable (fsync)
//	log/sdk-get                AWS SDK for Go GetRecords of what sdk-put wrote
//	log/sdk-put-auth           sdk-put against `sluice log serve --credentials`: every request's
//	                           SigV4 signature verified; baseline: sdk-put (no credentials),
//	                           run interleaved with it
//	log/sdk-get-auth           sdk-get likewise
//	log/disk-fsync-latency     hand-written loop: append 100 B to a file and fsync, p50/p99 (the
//	                           floor of a durable put on this disk)
//	log/put-get-latency        PutRecord -> GetRecords (tight polling) latency, p50/p99, durable,
//	                           with p99_vs_disk_fsync
//	log/put-get-latency-nosync the same against a log that acknowledges after write
//
// The embedded cases have a hand-written Go baseline (the same bytes written
// or read with plain file I/O). The SDK cases run the same client workload
// side by side against kinesalite (started on 127.0.0.1) and kinesis-local
// (which binds every interface, so it and its client half run in a private
// network namespace: this command re-executes itself under `unshare -n`),
// both installed from npm into a cache directory when missing, by the
// script install-peers.sh beside this file (embedded in the binary).
//
// kinesis-local has no option to bind loopback only, so it must not run in
// the machine's network namespace: `unshare -n` gives it (and the client
// half of its workload, which must reach it) a private namespace with only
// loopback up. That half is `sluice bench log --peer-child kinesis-local`
// (RunPeerChild) of the binary in Config.Sluice.
package logbench

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/internal/bench"
)

// Config is the configuration of Run.
type Config struct {
	Runs     int           // runs per case (medians are reported)
	Duration time.Duration // length of each timed SDK phase
	Clients  int           // concurrent SDK clients
	Shards   int           // shards per stream
	Batch    int           // records per PutRecords (1..500)
	Size     int           // record data bytes
	// Peers is auto (install kinesalite and kinesis-local with npm if
	// missing), installed (only if present) or off.
	Peers    string
	PeersDir string // npm prefix of the peers
	// Sluice is the path of a sluice binary: the SDK cases serve the log
	// with `Sluice log serve`, in its own process as the peers are, and run
	// the kinesis-local half with `Sluice bench log --peer-child`.
	Sluice string
	// Log receives diagnostics (peer installation, servers' stderr); nil
	// discards them.
	Log io.Writer
}

// DefaultConfig returns the configuration of the published figures, with
// the peers in $SLUICE_LOG_PEERS_DIR, else ~/.cache/sluice-ci/npm-peers.
func DefaultConfig() Config {
	dir := os.Getenv("SLUICE_LOG_PEERS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "sluice-ci", "npm-peers")
	}
	return Config{Runs: 5, Duration: time.Second, Clients: 16, Shards: 4, Batch: 500, Size: 100, Peers: "auto", PeersDir: dir}
}

func (cfg *Config) validate() error {
	if cfg.Runs < 1 || cfg.Clients < 1 || cfg.Shards < 1 || cfg.Batch < 1 || cfg.Batch > 500 || cfg.Size < 1 {
		return bench.ConfigError("--runs, --clients, --shards, --batch (1..500) and --size must be positive")
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	return nil
}

// Run runs the embedded cases, then the SDK cases, and hands each result to
// emit as it finishes. It blocks until they are done or ctx ends.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if cfg.Sluice == "" {
		return bench.ConfigError("Config.Sluice must name a sluice binary")
	}
	dir, err := os.MkdirTemp("", "sluice-bench-log-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	results, err := benchLogEmbedded(ctx, dir, cfg)
	if err != nil {
		return err
	}
	for _, r := range results {
		if err := emit(r); err != nil {
			return err
		}
	}
	results, err = benchLogSDK(ctx, dir, cfg, cfg.Log)
	if err != nil {
		return err
	}
	for _, r := range results {
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

func benchEntries(n, size int, seed int64) []shardlog.PutEntry {
	rng := rand.New(rand.NewSource(seed))
	es := make([]shardlog.PutEntry, n)
	for i := range es {
		d := make([]byte, size)
		rng.Read(d)
		es[i] = shardlog.PutEntry{PartitionKey: fmt.Sprintf("user-%08d", rng.Intn(1e8)), Data: d}
	}
	return es
}

// benchLogEmbedded measures the in-process API against a hand-written
// baseline that writes and reads the same payload with plain file I/O.
func benchLogEmbedded(ctx context.Context, dir string, cfg Config) ([]bench.Result, error) {
	const perRun = 400_000
	es := benchEntries(cfg.Batch, cfg.Size, 1)
	payload := int64(cfg.Size * cfg.Batch)
	var appendS, appendBase, fsyncS, readS, readBase []bench.Sample
	for run := 0; run < cfg.Runs; run++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rdir := filepath.Join(dir, fmt.Sprint("emb", run))
		l, err := shardlog.Open(shardlog.Options{Dir: rdir, Sync: shardlog.SyncNone, RetentionInterval: -1})
		if err != nil {
			return nil, err
		}
		if err := l.CreateStream(shardlog.CreateStreamInput{Name: "b", ShardCount: cfg.Shards}); err != nil {
			return nil, err
		}
		ref := shardlog.StreamRef{Name: "b"}
		res := make([]shardlog.PutResult, 0, cfg.Batch)
		s, err := bench.Measure(func() (int64, int64, error) {
			var n, b int64
			for n < perRun {
				if _, err := l.PutRecords(ctx, ref, es, res[:0]); err != nil {
					return n, b, err
				}
				n += int64(len(es))
				b += payload
			}
			return n, b, nil
		})
		if err != nil {
			return nil, err
		}
		appendS = append(appendS, s)
		// Baseline: the same bytes (length-prefixed key and data), one
		// write per batch, to a plain file.
		s, err = bench.Measure(func() (int64, int64, error) {
			f, err := os.Create(filepath.Join(rdir, "baseline"))
			if err != nil {
				return 0, 0, err
			}
			defer f.Close()
			var buf []byte
			var n, b int64
			for n < perRun {
				buf = buf[:0]
				for _, e := range es {
					buf = binary.AppendUvarint(buf, uint64(len(e.PartitionKey)))
					buf = append(buf, e.PartitionKey...)
					buf = binary.AppendUvarint(buf, uint64(len(e.Data)))
					buf = append(buf, e.Data...)
				}
				if _, err := f.Write(buf); err != nil {
					return n, b, err
				}
				n += int64(len(es))
				b += payload
			}
			return n, b, nil
		})
		if err != nil {
			return nil, err
		}
		appendBase = append(appendBase, s)
		// Read back every shard.
		s, err = bench.Measure(func() (int64, int64, error) {
			var n, b int64
			for i := 0; i < cfg.Shards; i++ {
				r, err := l.NewShardReader(ref, shardlog.ShardID(uint32(i)), shardlog.StartPosition{Type: shardlog.TrimHorizon})
				if err != nil {
					return n, b, err
				}
				for {
					rr, err := r.Read(ctx, 10000, 0, false)
					if err != nil {
						return n, b, err
					}
					if len(rr.Records) == 0 {
						break
					}
					for _, rec := range rr.Records {
						b += int64(len(rec.Data))
					}
					n += int64(len(rr.Records))
				}
			}
			return n, b, nil
		})
		if err != nil {
			return nil, err
		}
		readS = append(readS, s)
		s, err = bench.Measure(func() (int64, int64, error) {
			f, err := os.Open(filepath.Join(rdir, "baseline"))
			if err != nil {
				return 0, 0, err
			}
			defer f.Close()
			br := bufio.NewReaderSize(f, 1<<20)
			var n, b int64
			var data []byte
			for {
				kl, err := binary.ReadUvarint(br)
				if errors.Is(err, io.EOF) {
					return n, b, nil
				}
				if err != nil {
					return n, b, err
				}
				if _, err := br.Discard(int(kl)); err != nil {
					return n, b, err
				}
				dl, err := binary.ReadUvarint(br)
				if err != nil {
					return n, b, err
				}
				if cap(data) < int(dl) {
					data = make([]byte, dl)
				}
				if _, err := io.ReadFull(br, data[:dl]); err != nil {
					return n, b, err
				}
				n++
				b += int64(dl)
			}
		})
		if err != nil {
			return nil, err
		}
		readBase = append(readBase, s)
		l.Close()
		os.RemoveAll(rdir)

		// Durable appends: 4 producers on 4 shards share fsyncs.
		l, err = shardlog.Open(shardlog.Options{Dir: rdir, RetentionInterval: -1})
		if err != nil {
			return nil, err
		}
		l.CreateStream(shardlog.CreateStreamInput{Name: "b", ShardCount: cfg.Shards})
		s, err = bench.Measure(func() (int64, int64, error) {
			var n atomic.Int64
			var wg sync.WaitGroup
			errc := make(chan error, 4)
			deadline := time.Now().Add(cfg.Duration)
			for p := 0; p < 4; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					es := benchEntries(cfg.Batch, cfg.Size, int64(p+10))
					res := make([]shardlog.PutResult, 0, cfg.Batch)
					for time.Now().Before(deadline) {
						if _, err := l.PutRecords(ctx, ref, es, res[:0]); err != nil {
							errc <- err
							return
						}
						n.Add(int64(len(es)))
					}
				}()
			}
			wg.Wait()
			close(errc)
			return n.Load(), n.Load() * int64(cfg.Size), <-errc
		})
		if err != nil {
			return nil, err
		}
		fsyncS = append(fsyncS, s)
		l.Close()
		os.RemoveAll(rdir)
	}
	return []bench.Result{
		bench.FromSamples("log/embedded-append", appendS).WithBaseline(appendBase).Set("record_bytes", cfg.Size).Set("batch", cfg.Batch).Set("baseline", "plain file write of the same bytes, one write per batch"),
		bench.FromSamples("log/embedded-append-fsync", fsyncS).Set("record_bytes", cfg.Size).Set("batch", cfg.Batch).Set("producers", 4),
		bench.FromSamples("log/embedded-read", readS).WithBaseline(readBase).Set("record_bytes", cfg.Size).Set("baseline", "buffered plain file read of the same bytes"),
	}, nil
}

// sdkSample is one run of the SDK workload against one system.
type sdkSample struct {
	PutRecords int64         `json:"put_records"`
	PutBytes   int64         `json:"put_bytes"`
	PutWall    time.Duration `json:"put_wall"`
	PutCPU     time.Duration `json:"put_cpu"`
	GetRecords int64         `json:"get_records"`
	GetBytes   int64         `json:"get_bytes"`
	GetWall    time.Duration `json:"get_wall"`
	GetCPU     time.Duration `json:"get_cpu"`
}

// The key the workload signs with, which the server with credentials
// accepts (benchCredentials).
const benchKeyID, benchSecret = "AKIABENCH", "bench-secret"

// benchCredentials writes the credentials file of the server with
// authentication on: the workload's key, without a policy.
func benchCredentials(path string) error {
	b, err := json.Marshal(map[string]any{"Credentials": []map[string]string{{"AccessKeyId": benchKeyID, "SecretAccessKey": benchSecret}}})
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func benchClient(endpoint string, conns int) *kinesis.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns * 2
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(benchKeyID, benchSecret, ""),
		HTTPClient:   &http.Client{Transport: tr},
		// Retry connection errors only (the Go SDK's HTTP/1.1 transport
		// can drop a connection whose response arrives before its write
		// loop is done, aws/aws-sdk-go-v2#2737), never throttling: the
		// workload has no limits to hit, and a refusal must show.
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 5
			o.MaxBackoff = 50 * time.Millisecond
			o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
			o.RateLimiter = ratelimit.None
		}),
	})
}

// sdkWorkload is the client workload every system gets: create a stream,
// PutRecords from cfg.Clients goroutines for cfg.Duration, then read it all
// back with GetRecords (one goroutine per shard), then delete the stream.
func sdkWorkload(ctx context.Context, endpoint, stream string, cfg Config) (sdkSample, error) {
	var out sdkSample
	c := benchClient(endpoint, cfg.Clients)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(int32(cfg.Shards))}); err != nil {
		return out, fmt.Errorf("create stream: %w", err)
	}
	for i := 0; ; i++ {
		d, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err == nil && d.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			break
		}
		if i > 200 {
			return out, fmt.Errorf("stream %s not ACTIVE: %v", stream, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	defer c.DeleteStream(context.WithoutCancel(ctx), &kinesis.DeleteStreamInput{StreamName: aws.String(stream)})
	// Put phase.
	var n atomic.Int64
	var firstErr atomic.Value
	cpu0, t0 := bench.CPUTime(), time.Now()
	deadline := t0.Add(cfg.Duration)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			es := benchEntries(cfg.Batch, cfg.Size, int64(w+100))
			recs := make([]types.PutRecordsRequestEntry, len(es))
			for i, e := range es {
				recs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(e.PartitionKey), Data: e.Data}
			}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				res, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: recs})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(int64(len(recs)) - int64(aws.ToInt32(res.FailedRecordCount)))
			}
		}()
	}
	wg.Wait()
	out.PutWall, out.PutCPU = time.Since(t0), bench.CPUTime()-cpu0
	out.PutRecords = n.Load()
	out.PutBytes = out.PutRecords * int64(cfg.Size)
	if e, _ := firstErr.Load().(error); e != nil {
		return out, fmt.Errorf("put records: %w", e)
	}
	// Get phase.
	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		return out, fmt.Errorf("list shards: %w", err)
	}
	var got, gotBytes atomic.Int64
	cpu0, t0 = bench.CPUTime(), time.Now()
	for _, sh := range ls.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			iter := it.ShardIterator
			for iter != nil && ctx.Err() == nil {
				res, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				for _, r := range res.Records {
					gotBytes.Add(int64(len(r.Data)))
				}
				got.Add(int64(len(res.Records)))
				if len(res.Records) == 0 {
					return
				}
				iter = res.NextShardIterator
			}
		}()
	}
	wg.Wait()
	out.GetWall, out.GetCPU = time.Since(t0), bench.CPUTime()-cpu0
	out.GetRecords, out.GetBytes = got.Load(), gotBytes.Load()
	if e, _ := firstErr.Load().(error); e != nil {
		return out, fmt.Errorf("get records: %w", e)
	}
	return out, nil
}

func (s sdkSample) put() bench.Sample {
	return bench.Sample{Records: s.PutRecords, Bytes: s.PutBytes, Wall: s.PutWall, CPU: s.PutCPU}
}

func (s sdkSample) get() bench.Sample {
	return bench.Sample{Records: s.GetRecords, Bytes: s.GetBytes, Wall: s.GetWall, CPU: s.GetCPU}
}

// peer is a system the SDK workload runs against besides Sluice.
type peer struct {
	name string
	run  func(ctx context.Context, stream string) (sdkSample, error)
	stop func()
}

func benchLogSDK(ctx context.Context, dir string, cfg Config, stderr io.Writer) ([]bench.Result, error) {
	// Sluice serves from its own process, `sluice log serve`, as the
	// peers do: the client half of the workload runs in this process
	// against each server alike.
	endpoint, stopServer, err := startLogServer(ctx, cfg.Sluice, filepath.Join(dir, "server"), "always", stderr)
	if err != nil {
		return nil, err
	}
	defer stopServer()
	// The same server with authentication on, run interleaved with it.
	credFile := filepath.Join(dir, "credentials.json")
	if err := benchCredentials(credFile); err != nil {
		return nil, err
	}
	authEndpoint, stopAuthServer, err := startLogServer(ctx, cfg.Sluice, filepath.Join(dir, "server-auth"), "always", stderr, "--credentials", credFile)
	if err != nil {
		return nil, err
	}
	defer stopAuthServer()

	var peers []*peer
	if cfg.Peers != "off" {
		if err := ensurePeers(ctx, cfg, stderr); err != nil {
			fmt.Fprintf(stderr, "bench log: peers unavailable, running without them: %v\n", err)
		} else {
			if p, err := startKinesalite(ctx, cfg); err != nil {
				fmt.Fprintf(stderr, "bench log: kinesalite: %v\n", err)
			} else {
				peers = append(peers, p)
			}
			if p, err := startKinesisLocal(ctx, cfg, stderr); err != nil {
				fmt.Fprintf(stderr, "bench log: kinesis-local: %v\n", err)
			} else {
				peers = append(peers, p)
			}
		}
	}
	defer func() {
		for _, p := range peers {
			p.stop()
		}
	}()
	var mine, authed []sdkSample
	theirs := make([][]sdkSample, len(peers))
	for run := 0; run < cfg.Runs; run++ {
		// Authentication off and on, in turn first: the second of two
		// back-to-back workloads runs measurably slower on these
		// machines, whichever it is.
		for i := 0; i < 2; i++ {
			if (i+run)%2 == 0 {
				s, err := sdkWorkload(ctx, endpoint, fmt.Sprint("bench-", run), cfg)
				if err != nil {
					return nil, fmt.Errorf("sluice: %w", err)
				}
				mine = append(mine, s)
				continue
			}
			s, err := sdkWorkload(ctx, authEndpoint, fmt.Sprint("bench-", run), cfg)
			if err != nil {
				return nil, fmt.Errorf("sluice with --credentials: %w", err)
			}
			authed = append(authed, s)
		}
		for i, p := range peers {
			s, err := p.run(ctx, fmt.Sprint("bench-", run))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			theirs[i] = append(theirs[i], s)
		}
	}
	samples := func(ss []sdkSample, f func(sdkSample) bench.Sample) []bench.Sample {
		out := make([]bench.Sample, len(ss))
		for i, s := range ss {
			out[i] = f(s)
		}
		return out
	}
	put := bench.FromSamples("log/sdk-put", samples(mine, sdkSample.put)).
		Set("clients", cfg.Clients).Set("batch", cfg.Batch).Set("record_bytes", cfg.Size).Set("shards", cfg.Shards).Set("durable", true)
	get := bench.FromSamples("log/sdk-get", samples(mine, sdkSample.get)).Set("shards", cfg.Shards)
	for i, p := range peers {
		key := strings.ReplaceAll(p.name, "-", "_")
		ps := samples(theirs[i], sdkSample.put)
		gs := samples(theirs[i], sdkSample.get)
		pr := bench.Median(ps, bench.Sample.RecordsPerSec)
		gr := bench.Median(gs, bench.Sample.RecordsPerSec)
		put = put.Set(key+"_records_per_sec", pr)
		get = get.Set(key+"_records_per_sec", gr)
		if pr > 0 {
			put = put.Set("ratio_vs_"+key, put.RecordsPerSec/pr)
		}
		if gr > 0 {
			get = get.Set("ratio_vs_"+key, get.RecordsPerSec/gr)
		}
		if i == 0 {
			put = put.WithBaseline(ps).Set("baseline", p.name)
			get = get.WithBaseline(gs).Set("baseline", p.name)
		}
	}
	putAuth := bench.FromSamples("log/sdk-put-auth", samples(authed, sdkSample.put)).WithBaseline(samples(mine, sdkSample.put)).
		Set("baseline", "sdk-put without credentials").Set("auth", "sigv4").
		Set("clients", cfg.Clients).Set("batch", cfg.Batch).Set("record_bytes", cfg.Size).Set("shards", cfg.Shards).Set("durable", true)
	getAuth := bench.FromSamples("log/sdk-get-auth", samples(authed, sdkSample.get)).WithBaseline(samples(mine, sdkSample.get)).
		Set("baseline", "sdk-get without credentials").Set("auth", "sigv4").Set("shards", cfg.Shards)
	// The disk's own flush latency, the floor of a durable put: the same
	// number of small appends, each followed by the fsync the log does.
	disk, err := benchDiskSync(filepath.Join(dir, "fsync-baseline"), cfg)
	if err != nil {
		return nil, err
	}
	lat, err := benchLatency(ctx, endpoint, cfg, "log/put-get-latency", true)
	if err != nil {
		return nil, err
	}
	if p := disk.Extra["p99_ms"]; p != nil {
		lat = lat.Set("disk_fsync_p99_ms", p)
		if d, ok := p.(float64); ok && d > 0 {
			lat = lat.Set("p99_vs_disk_fsync", lat.Extra["p99_ms"].(float64)/d)
		}
	}
	// The same against a log that acknowledges after write (no fsync):
	// what the latency is without the disk's flush time.
	endpoint2, stopServer2, err := startLogServer(ctx, cfg.Sluice, filepath.Join(dir, "server-nosync"), "none", stderr)
	if err != nil {
		return nil, err
	}
	defer stopServer2()
	lat2, err := benchLatency(ctx, endpoint2, cfg, "log/put-get-latency-nosync", false)
	if err != nil {
		return nil, err
	}
	return []bench.Result{put, get, putAuth, getAuth, disk, lat, lat2}, nil
}

// benchDiskSync is a hand-written loop of what a durable put costs the
// disk: append a record of cfg.Size bytes to a file and fsync it, as often
// and as spaced out as benchLatency puts, reporting the latency of each.
func benchDiskSync(path string, cfg Config) (bench.Result, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return bench.Result{}, err
	}
	defer os.Remove(path)
	defer f.Close()
	n := 200 * cfg.Runs
	lats := make([]time.Duration, 0, n)
	s, err := bench.Measure(func() (int64, int64, error) {
		data := make([]byte, cfg.Size)
		for i := 0; i < n; i++ {
			t0 := time.Now()
			if _, err := f.Write(data); err != nil {
				return int64(i), 0, err
			}
			if err := f.Sync(); err != nil {
				return int64(i), 0, err
			}
			lats = append(lats, time.Since(t0))
			time.Sleep(2 * time.Millisecond)
		}
		return int64(n), int64(n * cfg.Size), nil
	})
	if err != nil {
		return bench.Result{}, fmt.Errorf("disk fsync baseline: %w", err)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return bench.FromSamples("log/disk-fsync-latency", []bench.Sample{s}).
		Set("p50_ms", ms(bench.Percentile(lats, 50))).
		Set("p99_ms", ms(bench.Percentile(lats, 99))).
		Set("max_ms", ms(bench.Percentile(lats, 100))), nil
}

// benchLatency puts one record at a time while a reader polls GetRecords
// without pause, and records how long each record took to be read.
func benchLatency(ctx context.Context, endpoint string, cfg Config, name string, durable bool) (bench.Result, error) {
	c := benchClient(endpoint, 2)
	stream := aws.String("latency")
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: stream, ShardCount: aws.Int32(1)}); err != nil {
		return bench.Result{}, err
	}
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: stream, ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest})
	if err != nil {
		return bench.Result{}, err
	}
	n := 200 * cfg.Runs
	var lats []time.Duration
	readerErr := make(chan error, 1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		iter := it.ShardIterator
		for len(lats) < n {
			res, err := c.GetRecords(rctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				readerErr <- err
				return
			}
			now := time.Now()
			for _, r := range res.Records {
				var ns int64
				if len(r.Data) >= 8 {
					ns = int64(binary.BigEndian.Uint64(r.Data))
				}
				lats = append(lats, now.Sub(time.Unix(0, ns)))
			}
			iter = res.NextShardIterator
		}
		readerErr <- nil
	}()
	s, err := bench.Measure(func() (int64, int64, error) {
		data := make([]byte, cfg.Size)
		for i := 0; i < n; i++ {
			binary.BigEndian.PutUint64(data, uint64(time.Now().UnixNano()))
			if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: stream, PartitionKey: aws.String("k"), Data: data}); err != nil {
				return int64(i), 0, err
			}
			time.Sleep(2 * time.Millisecond)
		}
		select {
		case err := <-readerErr:
			return int64(n), int64(n * cfg.Size), err
		case <-time.After(10 * time.Second):
			return int64(n), 0, errors.New("reader did not see every record")
		}
	})
	if err != nil {
		return bench.Result{}, err
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return bench.FromSamples(name, []bench.Sample{s}).
		Set("p50_ms", ms(bench.Percentile(lats, 50))).
		Set("p99_ms", ms(bench.Percentile(lats, 99))).
		Set("max_ms", ms(bench.Percentile(lats, 100))).
		Set("durable", durable), nil
}

// startLogServer runs `self log serve` on a free 127.0.0.1 port with
// limits off (and the extra flags) and waits until it answers.
func startLogServer(ctx context.Context, self, dir, sync string, stderr io.Writer, extra ...string) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(self, append([]string{"log", "serve", "--addr", addr, "--data", dir, "--limits", "off", "--sync", sync}, extra...)...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	endpoint := "http://" + addr
	if err := waitHTTP(ctx, endpoint, 20*time.Second); err != nil {
		stop()
		return "", nil, err
	}
	return endpoint, stop, nil
}

// --- peers ---

// installPeers is the script that installs the pinned kinesalite and
// kinesis-local with npm; run as `sh -c installPeers sh <prefix>`.
//
//go:embed install-peers.sh
var installPeers string

func peersInstalled(dir string) bool {
	for _, p := range []string{"node_modules/kinesalite/package.json", "node_modules/kinesis-local/main.js"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

// ensurePeers installs kinesalite and kinesis-local into cfg.PeersDir with
// install-peers.sh when they are missing.
func ensurePeers(ctx context.Context, cfg Config, stderr io.Writer) error {
	if peersInstalled(cfg.PeersDir) {
		return nil
	}
	if cfg.Peers != "auto" {
		return fmt.Errorf("not installed in %s", cfg.PeersDir)
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", installPeers, "install-peers.sh", cfg.PeersDir)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("install-peers.sh: %w", err)
	}
	if !peersInstalled(cfg.PeersDir) {
		return errors.New("install-peers.sh finished but the packages are missing")
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitHTTP(ctx context.Context, url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not come up in %v", url, d)
}

// startKinesalite runs kinesalite in memory on 127.0.0.1 (its command line
// has no host option, so it is started through its module API).
func startKinesalite(ctx context.Context, cfg Config) (*peer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	script := fmt.Sprintf(`require(%q)({createStreamMs:0,deleteStreamMs:0,updateStreamMs:0,shardLimit:1000}).listen(%d, "127.0.0.1")`,
		filepath.Join(cfg.PeersDir, "node_modules", "kinesalite"), port)
	cmd := exec.Command("node", "-e", script)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitHTTP(ctx, endpoint, 20*time.Second); err != nil {
		stop()
		return nil, err
	}
	return &peer{name: "kinesalite", stop: stop, run: func(ctx context.Context, stream string) (sdkSample, error) {
		return sdkWorkload(ctx, endpoint, stream, cfg)
	}}, nil
}

// startKinesisLocal runs `cfg.Sluice bench log --peer-child` under `unshare -n` (a private
// network namespace with only loopback up), where it starts kinesis-local
// and runs the client half on request: kinesis-local binds every interface,
// which must never be reachable from outside.
func startKinesisLocal(ctx context.Context, cfg Config, stderr io.Writer) (*peer, error) {
	if _, err := exec.LookPath("unshare"); err != nil {
		return nil, errors.New("unshare not found")
	}
	args := []string{"-n", "sh", "-c", `ip link set lo up && exec "$0" "$@"`, cfg.Sluice, "bench", "log",
		"--peer-child", "kinesis-local", "--peers-dir", cfg.PeersDir,
		"--duration", cfg.Duration.String(), "--clients", fmt.Sprint(cfg.Clients), "--shards", fmt.Sprint(cfg.Shards),
		"--batch", fmt.Sprint(cfg.Batch), "--size", fmt.Sprint(cfg.Size)}
	cmd := exec.Command("unshare", args...)
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	out := bufio.NewScanner(outPipe)
	stop := func() { in.Close(); cmd.Wait() }
	if !out.Scan() || out.Text() != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("child did not start (is unshare -n permitted here?)")
	}
	var mu sync.Mutex
	return &peer{name: "kinesis-local", stop: stop, run: func(ctx context.Context, stream string) (sdkSample, error) {
		mu.Lock()
		defer mu.Unlock()
		var s sdkSample
		if _, err := fmt.Fprintf(in, "%s\n", stream); err != nil {
			return s, err
		}
		if !out.Scan() {
			return s, errors.New("child exited")
		}
		line := out.Bytes()
		if bytes.HasPrefix(line, []byte("error ")) {
			return s, errors.New(string(line[6:]))
		}
		return s, json.Unmarshal(line, &s)
	}}, nil
}

// RunPeerChild is the client half of the kinesis-local case and runs
// inside the network namespace (`sluice bench log --peer-child`): it starts
// the peer on 127.0.0.1, says "ready", then runs the workload once per
// stream name read from stdin and answers each with a JSON line on stdout.
// It returns when stdin ends.
func RunPeerChild(ctx context.Context, name string, cfg Config, stdin io.Reader, stdout io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if name != "kinesis-local" {
		return bench.ConfigError("unknown peer %q", name)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	tlsPort, err := freePort()
	if err != nil {
		return err
	}
	dir := filepath.Join(cfg.PeersDir, "node_modules", "kinesis-local")
	cmd := exec.Command("node", "main.js")
	cmd.Dir = dir // it reads server.json from the working directory
	cmd.Env = append(os.Environ(),
		fmt.Sprint("KINESIS_MOCK_PLAIN_PORT=", port), fmt.Sprint("KINESIS_MOCK_TLS_PORT=", tlsPort),
		"LOG_LEVEL=ERROR", "CREATE_STREAM_DURATION=0ms", "DELETE_STREAM_DURATION=0ms", "SHARD_LIMIT=1000")
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitHTTP(ctx, endpoint, 30*time.Second); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		s, err := sdkWorkload(ctx, endpoint, sc.Text(), cfg)
		if err != nil {
			fmt.Fprintf(stdout, "error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		b, _ := json.Marshal(s)
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return nil
}
