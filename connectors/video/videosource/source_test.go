package videosource_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/videosource"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
)

// store holds a stream of 5 × rounds fragments of ffmpeg's test pattern.
func store(t *testing.T, rounds int) (*video.Store, []string) {
	t.Helper()
	s, err := video.Open(video.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if _, err := s.CreateStream(ctx, video.CreateInput{Name: "cam", DataRetentionInHours: 1}); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join("..", "testdata", "testsrc.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	var nums []string
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	for i := 0; i < rounds; i++ {
		err := s.PutMedia(ctx, "cam", bytes.NewReader(body), video.PutOptions{Relative: true, ProducerStart: start.Add(time.Duration(i) * 10 * time.Second)}, func(a video.Ack) error {
			if a.EventType == video.AckPersisted {
				nums = append(nums, a.FragmentNumber)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return s, nums
}

func TestSourceConformance(t *testing.T) {
	s, nums := store(t, 8)
	want := map[string]int{}
	for _, n := range nums {
		want[n] = 1
	}
	conformance.RunSource(t, conformance.Source[videosource.Record]{
		Build: func(t *testing.T, j *engine.Job) *engine.Stream[videosource.Record] {
			return engine.SourceOf(j, "video", videosource.Source(videosource.Options{Store: s, Stream: "cam", Bounded: true}), engine.NoWatermarks[videosource.Record]())
		},
		Key:  func(r videosource.Record) string { return r.FragmentNumber },
		Want: want,
	})
}

func TestRecordsCarryEventTimeTagsAndFrames(t *testing.T) {
	s, nums := store(t, 1)
	j := engine.NewJob("video", engine.Config{Parallelism: 1})
	src := engine.SourceOf(j, "video", videosource.Source(videosource.Options{Store: s, Stream: "cam", Bounded: true, Frames: true}),
		engine.SourceTimestamps[videosource.Record](0))
	out := engine.CollectExactlyOnce(engine.Map(src, "id", func(r videosource.Record) videosource.Record { return r }), "out")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := out.CommittedValues()
	if len(recs) != len(nums) {
		t.Fatalf("%d records, want %d", len(recs), len(nums))
	}
	frames := 0
	for i, r := range recs {
		if r.FragmentNumber != nums[i] || r.Duration <= 0 || r.ProducerTimestamp.IsZero() {
			t.Fatalf("record %d: %+v", i, r)
		}
		for _, f := range r.Frames {
			if f.Track != 1 || len(f.Data) == 0 {
				t.Fatalf("frame %+v", f)
			}
		}
		if !r.Frames[0].Keyframe && i == 0 {
			t.Fatalf("the first frame is not a keyframe")
		}
		frames += len(r.Frames)
	}
	if frames != 30 {
		t.Fatalf("%d frames, want 30", frames)
	}
}
