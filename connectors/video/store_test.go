package video

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// testsrc.mkv: ffmpeg's testsrc, 3 s at 10 fps, 160x120 H.264, a keyframe
// every 10 frames, clusters of at most 500 ms.

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readFileErr(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFileErr(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }

func openStore(t *testing.T, dir string, clk clock.Clock) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func putAll(t *testing.T, s *Store, name string, body []byte, opts PutOptions) ([]Ack, error) {
	t.Helper()
	var acks []Ack
	err := s.PutMedia(context.Background(), name, bytes.NewReader(body), opts, func(a Ack) error {
		acks = append(acks, a)
		return nil
	})
	return acks, err
}

func TestPutMediaStoresEveryCluster(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	s := openStore(t, t.TempDir(), clk)
	if _, err := s.CreateStream(context.Background(), CreateInput{Name: "cam", DataRetentionInHours: 2}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	acks, err := putAll(t, s, "cam", readFile(t, "testsrc.mkv"), PutOptions{Relative: true, ProducerStart: start})
	if err != nil {
		t.Fatal(err)
	}
	var persisted []string
	for _, a := range acks {
		if a.EventType == AckPersisted {
			persisted = append(persisted, a.FragmentNumber)
		}
		if a.EventType == AckError {
			t.Fatalf("error ack %+v", a)
		}
	}
	if len(persisted) < 3 {
		t.Fatalf("%d fragments persisted, want several: %+v", len(persisted), acks)
	}
	fs, err := s.Fragments(context.Background(), "cam", ProducerTimestamp, start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != len(persisted) {
		t.Fatalf("Fragments: %d, want %d", len(fs), len(persisted))
	}
	for i, f := range fs {
		if f.Number != persisted[i] {
			t.Fatalf("fragment %d is %s, want %s", i, f.Number, persisted[i])
		}
		if f.Duration <= 0 {
			t.Fatalf("fragment %d has duration %v", i, f.Duration)
		}
	}
	last := fs[len(fs)-1]
	// The first cluster holds frames 0-5 (0.6 s); the last ends at or after
	// the 3 s of the file (blocks are in decoding order, and a cluster's
	// timecode is its first block's presentation time).
	if fs[0].Duration != 600*time.Millisecond {
		t.Fatalf("first fragment lasts %v, want 600ms", fs[0].Duration)
	}
	if span := last.ProducerTimestamp.Add(last.Duration).Sub(fs[0].ProducerTimestamp); span < 3*time.Second {
		t.Fatalf("the fragments span %v, want at least 3s", span)
	}
	if !fs[0].ProducerTimestamp.Equal(start) || !fs[0].ServerTimestamp.Equal(clk.Now()) {
		t.Fatalf("first fragment %+v", fs[0])
	}
	// Every fragment alone is playable Matroska.
	doc, err := s.Fragment(context.Background(), "cam", fs[1].Number)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(doc)) != fs[1].Size {
		t.Fatalf("document of %d bytes, Size says %d", len(doc), fs[1].Size)
	}
	frames := probeFrames(t, doc)
	if frames == 0 {
		t.Fatal("ffprobe read no frames")
	}
}

func probeFrames(t *testing.T, doc []byte) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.mkv")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,nb_read_frames", "-of", "default=nw=1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var n int
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "nb_read_frames="); ok {
			for _, c := range v {
				n = n*10 + int(c-'0')
			}
		}
	}
	if !strings.Contains(string(out), "codec_name=h264") {
		t.Fatalf("ffprobe: %s", out)
	}
	return n
}

var _ = errors.Is

func TestCursorSelectorsAndLiveRead(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	s := openStore(t, dir, clk)
	ctx := context.Background()
	if _, err := s.CreateStream(ctx, CreateInput{Name: "cam", DataRetentionInHours: 1}); err != nil {
		t.Fatal(err)
	}
	body := readFile(t, "testsrc.mkv")
	start := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	if _, err := putAll(t, s, "cam", body, PutOptions{Relative: true, ProducerStart: start}); err != nil {
		t.Fatal(err)
	}
	all, _ := s.Fragments(ctx, "cam", ServerTimestamp, time.Time{}, clk.Now())
	n := len(all)

	// A reader at NOW waits; fragments put later reach it.
	now, err := s.NewCursor(ctx, "cam", "", StartSelector{Type: "NOW"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan StoredFragment, 1)
	errc := make(chan error, 1)
	go func() {
		f, _, err := now.Next(ctx)
		got <- f
		errc <- err
	}()
	clk.Advance(time.Minute)
	if _, err := putAll(t, s, "cam", body, PutOptions{Relative: true, ProducerStart: start.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	f := <-got
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if want := FragmentNumber(uint64(n + 1)); f.Number != want {
		t.Fatalf("live reader got %s, want %s", f.Number, want)
	}

	// EARLIEST reads everything, concatenated documents that ffprobe plays.
	c, err := s.NewCursor(ctx, "cam", "", StartSelector{Type: "EARLIEST"})
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for i := 0; i < n; i++ {
		f, _, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.Document(TagContinuationToken, f.Number, TagMillisBehindNow, "0")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d...)
	}
	// The concatenated documents read back: one cluster per fragment, each
	// after the service's tags naming it.
	fr := NewFragmentReader(bytes.NewReader(out), 0)
	var clusters int
	var numbers []string
	for {
		el, err := fr.Next()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatal(err)
			}
			break
		}
		switch el.Kind {
		case KindCluster:
			clusters++
		case KindTags:
			for _, tg := range el.Tags.Tag {
				for _, st := range tg.SimpleTag {
					if st.TagName == TagFragmentNumber {
						numbers = append(numbers, st.TagString)
					}
				}
			}
		}
	}
	fr.Close()
	if clusters != n || len(numbers) != n || numbers[0] != all[0].Number {
		t.Fatalf("read back %d clusters, numbers %v; want %d", clusters, numbers, n)
	}
	if frames := probeFrames(t, out); frames != 30 {
		t.Fatalf("ffprobe counted %d frames in the first %d fragments, want 30", frames, n)
	}

	// FRAGMENT_NUMBER and CONTINUATION_TOKEN start after the fragment named.
	for _, sel := range []StartSelector{
		{Type: "FRAGMENT_NUMBER", AfterFragmentNumber: all[1].Number},
		{Type: "CONTINUATION_TOKEN", ContinuationToken: all[1].Number},
		{Type: "PRODUCER_TIMESTAMP", StartTimestamp: all[2].ProducerTimestamp.Add(time.Millisecond)},
	} {
		c, err := s.NewCursor(ctx, "cam", "", sel)
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Number != all[2].Number {
			t.Fatalf("%s: got %s, want %s", sel.Type, f.Number, all[2].Number)
		}
	}
	// The second put came a minute later by the server's clock.
	c, err = s.NewCursor(ctx, "cam", "", StartSelector{Type: "SERVER_TIMESTAMP", StartTimestamp: all[0].ServerTimestamp.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if f, _, err := c.Next(ctx); err != nil || f.Number != FragmentNumber(uint64(n+1)) {
		t.Fatalf("SERVER_TIMESTAMP: %v %v", f.Number, err)
	}
	if _, err := s.NewCursor(ctx, "cam", "", StartSelector{Type: "FRAGMENT_NUMBER", AfterFragmentNumber: FragmentNumber(999)}); !errors.Is(err, ErrFragmentNotFound) {
		t.Fatalf("unknown fragment: %v", err)
	}

	// Retention: an hour later the first put's fragments are gone, from the
	// index and (their segment files) from disk, and stay gone on reopen.
	clk.Advance(time.Hour - time.Minute + time.Second)
	if err := s.Trim(); err != nil {
		t.Fatal(err)
	}
	kept, _ := s.Fragments(ctx, "cam", ServerTimestamp, time.Time{}, clk.Now())
	if len(kept) != n {
		t.Fatalf("after retention %d fragments, want %d", len(kept), n)
	}
	if kept[0].Number != FragmentNumber(uint64(n+1)) {
		t.Fatalf("first kept %s", kept[0].Number)
	}
	s.Close()
	s2 := openStore(t, dir, clk)
	again, _ := s2.Fragments(ctx, "cam", ServerTimestamp, time.Time{}, clk.Now())
	if len(again) != n || again[0].Number != kept[0].Number {
		t.Fatalf("after reopen %d fragments from %v", len(again), again)
	}
	if _, err := s2.Fragment(ctx, "cam", all[0].Number); !errors.Is(err, ErrFragmentNotFound) {
		t.Fatalf("trimmed fragment: %v", err)
	}
}

// A stream without retention acknowledges RECEIVED, never PERSISTED, keeps
// nothing on disk, and still feeds a live reader.
func TestNoRetentionIsLiveOnly(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	ctx := context.Background()
	if _, err := s.CreateStream(ctx, CreateInput{Name: "live"}); err != nil {
		t.Fatal(err)
	}
	c, err := s.NewCursor(ctx, "live", "", StartSelector{Type: "NOW"})
	if err != nil {
		t.Fatal(err)
	}
	acks, err := putAll(t, s, "live", readFile(t, "testsrc.mkv"), PutOptions{Relative: true, ProducerStart: time.Unix(1_800_000_000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	received := 0
	for _, a := range acks {
		if a.EventType == AckPersisted {
			t.Fatalf("PERSISTED without retention: %+v", a)
		}
		if a.EventType == AckReceived {
			received++
		}
	}
	if received != 5 {
		t.Fatalf("%d RECEIVED", received)
	}
	for i := 0; i < 5; i++ {
		if _, _, err := c.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if fs, _ := s.Fragments(ctx, "live", ServerTimestamp, time.Time{}, time.Now().Add(time.Hour)); len(fs) != 0 {
		t.Fatalf("%d durable fragments listed", len(fs))
	}
	ids, err := listSegments(s.streams["live"].dir)
	if err != nil || len(ids) != 0 {
		t.Fatalf("segment files %v %v", ids, err)
	}
}
