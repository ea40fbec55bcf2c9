// Package s3ckptbench is `sluice bench s3checkpoint`: the duration and the
// uploaded bytes of a keyed job's checkpoints of a given amount of Pebble
// state, to S3 (a MinIO) through connectors/s3/s3checkpoint and to a local
// directory, the first (full) checkpoint and the next one after a few
// updates (incremental on S3: only new sstables and the small files go
// up), in one process run.
package s3ckptbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3checkpoint"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/internal/testsupport/minio"
	"github.com/sluicehq/sluice/state"
)

// Config configures the benchmark.
type Config struct {
	// StateBytes of keyed state (values of ValueBytes random bytes, keys of
	// 12 bytes) before the first checkpoint.
	StateBytes int64
	ValueBytes int
	// Updates is how many keys are updated between the two checkpoints.
	Updates int
	// S3Endpoint, AccessKey, SecretKey name the S3 server; empty: a MinIO
	// started from the CI cache.
	S3Endpoint, AccessKey, SecretKey string
	// Dir holds the state and the local checkpoints (default: a temporary
	// directory).
	Dir string
	Log io.Writer
}

// DefaultConfig is the headline configuration: 1 GiB of state.
var DefaultConfig = Config{StateBytes: 1 << 30, ValueBytes: 1000, Updates: 1000}

// Run runs the local case, then the S3 case, and emits two results each.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	if cfg.StateBytes < 1<<20 || cfg.ValueBytes < 1 || cfg.Updates < 1 {
		return bench.ConfigError("state bytes %d (at least 1 MiB), value bytes %d and updates %d must be positive", cfg.StateBytes, cfg.ValueBytes, cfg.Updates)
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "sluice-bench-s3ckpt-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if err := runCase(ctx, cfg, "local", engine.LocalStorage{Dir: filepath.Join(dir, "local-checkpoints")}, nil, filepath.Join(dir, "state-local"), emit); err != nil {
		return err
	}
	// Room for the S3 case's copy of the state.
	if err := errors.Join(os.RemoveAll(filepath.Join(dir, "local-checkpoints")), os.RemoveAll(filepath.Join(dir, "state-local"))); err != nil {
		return err
	}
	endpoint, access, secret := cfg.S3Endpoint, cfg.AccessKey, cfg.SecretKey
	if endpoint == "" {
		bin := minio.Find()
		if bin == "" {
			fmt.Fprintln(cfg.Log, "s3checkpoint_minio: skipped (no MinIO: set SLUICE_S3_ENDPOINT or run .ci/setup.d/40-minio.sh)")
			return nil
		}
		m, err := minio.Start(ctx, bin)
		if err != nil {
			return err
		}
		defer m.Stop()
		endpoint, access, secret = m.Endpoint, m.AccessKey, m.SecretKey
	}
	sc := s3.Config{Bucket: fmt.Sprintf("sluice-bench-s3ckpt-%d", time.Now().UnixNano()), Endpoint: endpoint, Region: "us-east-1",
		UsePathStyle: true, AccessKeyID: access, SecretAccessKey: secret}
	b, err := s3.Open(ctx, sc)
	if err != nil {
		return err
	}
	if err := b.CreateBucket(ctx); err != nil {
		return err
	}
	st, err := s3checkpoint.New(b, s3checkpoint.Options{Prefix: "bench", CacheDir: filepath.Join(dir, "s3-cache")})
	if err != nil {
		return err
	}
	defer st.Close()
	return runCase(ctx, cfg, "minio", st, st, filepath.Join(dir, "state-s3"), emit)
}

type kv struct {
	K string
	V string
}

type chanSource struct{ c chan []kv }

func (s *chanSource) Open(context.Context, engine.SourceInfo) (engine.SourceReader[kv], error) {
	return s, nil
}

func (s *chanSource) Read(ctx context.Context, out *engine.SourceOutput[kv]) error {
	select {
	case b, ok := <-s.c:
		if !ok {
			return io.EOF
		}
		for _, v := range b {
			out.Collect(v)
		}
	case <-time.After(20 * time.Millisecond):
	case <-ctx.Done():
	}
	return nil
}

func (s *chanSource) Close() error { return nil }

type lastValue struct{ v *state.ValueState[string] }

func (l *lastValue) Open(rc *engine.RuntimeContext) error {
	var err error
	l.v, err = engine.GetValueState[string](rc, "v")
	return err
}

func (l *lastValue) ProcessElement(e kv, _ *engine.KeyedContext[string, struct{}]) error {
	return l.v.Update(e.V)
}

func runCase(ctx context.Context, cfg Config, name string, storage engine.CheckpointStorage, s3st *s3checkpoint.Storage, stateDir string, emit bench.Emit) error {
	src := &chanSource{c: make(chan []kv)}
	j := engine.NewJob("bench-s3checkpoint", engine.Config{Parallelism: 1, StateDir: stateDir, StateCacheEntries: 4096,
		Checkpoint: engine.CheckpointConfig{Storage: storage, Retain: 2}})
	s := engine.SourceOf(j, "kv", engine.Source[kv](src), engine.WatermarkStrategy[kv]{})
	engine.KeyedProcess(engine.KeyBy(s, func(e kv) string { return e.K }), "last", engine.KeyedProcessFunction[string, kv, struct{}](&lastValue{}))
	r, err := j.Start(ctx)
	if err != nil {
		return err
	}
	stop := func(err error) error {
		r.Cancel()
		werr := r.Wait()
		if errors.Is(werr, engine.ErrJobCancelled) {
			werr = nil
		}
		return errors.Join(err, werr)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 1<<20)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	value := func() string {
		off := rng.IntN(len(noise) - cfg.ValueBytes)
		return string(noise[off : off+cfg.ValueBytes])
	}
	keys := cfg.StateBytes / int64(cfg.ValueBytes+12)
	fmt.Fprintf(cfg.Log, "s3checkpoint_%s: loading %d keys\n", name, keys)
	send := func(from, to int64, step int64) error {
		for i := from; i < to; {
			b := make([]kv, 0, 1000)
			for ; i < to && len(b) < 1000; i += step {
				b = append(b, kv{K: fmt.Sprintf("key-%08d", i), V: value()})
			}
			select {
			case src.c <- b:
			case <-r.Done():
				return r.Wait()
			}
		}
		return nil
	}
	if err := send(0, keys, 1); err != nil {
		return stop(err)
	}
	settle := 0
	measure := func(tag string, records int64) error {
		cpu0, t0 := bench.CPUTime(), time.Now()
		id, err := r.TriggerCheckpoint(ctx)
		if err != nil {
			return err
		}
		wall, cpu := time.Since(t0), bench.CPUTime()-cpu0
		res := bench.Result{Name: "s3checkpoint_" + name + "_" + tag, Records: records, Seconds: wall.Seconds(), Runs: 1,
			RecordsPerSec: float64(records) / wall.Seconds(), RecordsPerCPUSec: float64(records) / cpu.Seconds()}
		stats := r.LastCheckpointStats()
		res = res.Set("settle_checkpoints", settle).Set("checkpoint_ms", float64(stats.Duration.Microseconds())/1000).Set("sync_pause_ms", float64(stats.MaxSyncPause.Microseconds())/1000)
		if s3st != nil {
			us := s3st.Stats(id)
			res = res.Set("uploaded_bytes", us.UploadedBytes).Set("uploaded_sst_bytes", us.UploadedSharedBytes).Set("reused_bytes", us.ReusedBytes).Set("uploaded_files", us.UploadedFiles).Set("reused_files", us.ReusedFiles)
			res.BytesPerSec = float64(us.UploadedBytes) / wall.Seconds()
			res = res.Set("checkpoint_bytes", us.UploadedBytes+us.ReusedBytes)
		} else {
			n, err := dirBytes(stats.Dir)
			if err != nil {
				return err
			}
			res = res.Set("checkpoint_bytes", n)
		}
		return emit(res)
	}
	if err := measure("full", keys); err != nil {
		return stop(err)
	}
	// The load's flushes leave compactions that rewrite the sstables in
	// the background; the next checkpoints upload their output. Checkpoint
	// without changes until that settles (on S3: a checkpoint that
	// uploads no new sstable; locally, three), so that the incremental
	// figure measures the updates.
	for settle < 30 {
		settle++
		id, err := r.TriggerCheckpoint(ctx)
		if err != nil {
			return stop(err)
		}
		if s3st == nil {
			if settle == 3 {
				break
			}
			continue
		}
		if us := s3st.Stats(id); us.UploadedSharedBytes == 0 {
			break
		}
	}
	fmt.Fprintf(cfg.Log, "s3checkpoint_%s: %d checkpoints until compactions settled\n", name, settle)
	step := max(keys/int64(cfg.Updates), 1)
	if err := send(0, keys, step); err != nil {
		return stop(err)
	}
	if err := measure("incremental", int64(cfg.Updates)); err != nil {
		return stop(err)
	}
	close(src.c)
	return r.Wait()
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
