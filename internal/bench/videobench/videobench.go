// Package videobench is `sluice bench video`: PutMedia ingest over HTTP into
// a store on disk with durable (fsynced) acknowledgements, as fragments and
// MB per second and per CPU second; and the latency from a fragment's
// PERSISTED acknowledgement to a live GetMedia reader receiving it.
package videobench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/videoapi"
	"github.com/sluicehq/sluice/internal/bench"
)

// Config sizes the benchmark.
type Config struct {
	Runs          int
	Fragments     int // per run
	FramesPerFrag int
	FrameBytes    int
	// Dir holds the stores (default: a temporary directory).
	Dir string
}

// DefaultConfig: 1 s fragments of 25 frames of 8 KiB (≈ 1.6 Mbit/s video).
var DefaultConfig = Config{Runs: 3, Fragments: 200, FramesPerFrag: 25, FrameBytes: 8 << 10}

var (
	info   = video.Info{TimecodeScale: 1000000, MuxingApp: "sluice-bench"}
	tracks = video.Tracks{TrackEntry: []video.TrackEntry{{TrackNumber: 1, TrackUID: 1, CodecID: "V_MPEG4/ISO/AVC", TrackType: 1,
		DefaultDuration: 40000000, Video: &video.Video{PixelWidth: 1280, PixelHeight: 720}}}}
)

// Run runs both cases.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	if cfg.Runs <= 0 || cfg.Fragments <= 0 || cfg.FramesPerFrag <= 0 || cfg.FrameBytes <= 0 {
		return bench.ConfigError("runs, fragments, frames and frame bytes must be positive")
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "sluice-bench-video-")
		if err != nil {
			return fmt.Errorf("videobench: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var ingest []bench.Sample
	var lat []time.Duration
	for run := 0; run < cfg.Runs; run++ {
		s, l, err := oneRun(ctx, cfg, fmt.Sprintf("%s/run%d", dir, run))
		if err != nil {
			return err
		}
		ingest = append(ingest, s)
		lat = append(lat, l...)
	}
	r := bench.FromSamples("video PutMedia ingest, fsync per fragment (fragments)", ingest)
	r = r.Set("mb_per_sec", r.BytesPerSec/1e6)
	med := ingest[len(ingest)/2]
	r = r.Set("mb_per_cpu_sec", float64(med.Bytes)/1e6/med.CPU.Seconds())
	r = r.Set("fragment_bytes", cfg.FramesPerFrag*cfg.FrameBytes)
	if err := emit(r); err != nil {
		return err
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	lr := bench.Result{Name: "video GetMedia live reader, PERSISTED to received", Records: int64(len(lat)), Runs: cfg.Runs}
	lr = lr.Set("p50_ms", pct(0.5)).Set("p99_ms", pct(0.99)).Set("max_ms", pct(1))
	return emit(lr)
}

// oneRun puts cfg.Fragments fragments through the HTTP API into a fresh
// store while a live reader follows; it returns the ingest sample and each
// fragment's latency to the reader.
func oneRun(ctx context.Context, cfg Config, dir string) (bench.Sample, []time.Duration, error) {
	st, err := video.Open(video.Options{Dir: dir})
	if err != nil {
		return bench.Sample{}, nil, err
	}
	defer st.Close()
	if _, err := st.CreateStream(ctx, video.CreateInput{Name: "bench", DataRetentionInHours: 1}); err != nil {
		return bench.Sample{}, nil, err
	}
	hs := httptest.NewServer(videoapi.New(st, videoapi.Options{}))
	defer hs.Close()
	cl := &videoapi.Client{Endpoint: hs.URL, Region: "us-east-1", Credentials: aws.Credentials{AccessKeyID: "bench", SecretAccessKey: "bench"}}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live, err := cl.GetMedia(rctx, videoapi.GetMediaInput{StreamName: "bench", StartSelector: video.StartSelector{Type: "NOW"}})
	if err != nil {
		return bench.Sample{}, nil, err
	}
	defer live.Close()
	var mu sync.Mutex
	acked := map[string]time.Time{}
	received := map[string]time.Time{}
	readDone := make(chan error, 1)
	go func() {
		fr := video.NewFragmentReader(live, 0)
		defer fr.Close()
		for len(received) < cfg.Fragments {
			el, err := fr.Next()
			if err != nil {
				readDone <- err
				return
			}
			if el.Kind != video.KindTags {
				continue
			}
			for _, t := range el.Tags.Tag {
				for _, s := range t.SimpleTag {
					if s.TagName == video.TagContinuationToken { // the fragment's last element
						mu.Lock()
						received[s.TagString] = time.Now()
						mu.Unlock()
					}
				}
			}
		}
		readDone <- nil
	}()

	pr, pw := io.Pipe()
	rng := rand.New(rand.NewPCG(1, 2))
	frame := make([]byte, cfg.FrameBytes)
	for i := range frame {
		frame[i] = byte(rng.Uint32())
	}
	go func() {
		sw, err := video.NewStreamWriter(pw, info, tracks)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		base := uint64(time.Now().UnixMilli())
		for f := 0; f < cfg.Fragments; f++ {
			c := video.Cluster{Timecode: []uint64{base + uint64(f)*uint64(cfg.FramesPerFrag)*40}}
			for k := 0; k < cfg.FramesPerFrag; k++ {
				c.SimpleBlock = append(c.SimpleBlock, ebml.Block{TrackNumber: 1, Timecode: int16(k * 40), Keyframe: k == 0, Data: [][]byte{frame}})
			}
			if err := sw.WriteCluster(c); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.Close()
	}()
	persisted := 0
	sample, err := bench.Measure(func() (int64, int64, error) {
		err := cl.PutMedia(ctx, videoapi.PutMediaInput{StreamName: "bench", TimecodeType: "ABSOLUTE", Body: pr}, func(a video.Ack) {
			if a.EventType == video.AckPersisted {
				persisted++
				mu.Lock()
				acked[a.FragmentNumber] = time.Now()
				mu.Unlock()
			}
		})
		return int64(persisted), int64(persisted) * int64(cfg.FramesPerFrag*cfg.FrameBytes), err
	})
	if err != nil {
		return bench.Sample{}, nil, err
	}
	if persisted != cfg.Fragments {
		return bench.Sample{}, nil, fmt.Errorf("videobench: %d of %d fragments persisted", persisted, cfg.Fragments)
	}
	if err := <-readDone; err != nil {
		return bench.Sample{}, nil, fmt.Errorf("videobench: the live reader: %w", err)
	}
	var lat []time.Duration
	mu.Lock()
	for n, a := range acked {
		if r, ok := received[n]; ok {
			lat = append(lat, max(r.Sub(a), 0))
		}
	}
	mu.Unlock()
	return sample, lat, nil
}
