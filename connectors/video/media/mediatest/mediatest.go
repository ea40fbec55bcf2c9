// Package mediatest is test support for video playback: it encodes a test
// pattern with ffmpeg, splits the Matroska at its Clusters into the
// self-contained fragments Kinesis Video Streams stores (EBML header, then a
// Segment with Info, Tracks, one Cluster and the fragment's Tags), and keeps
// them in an in-memory video.Archive. Only tests import it.
package mediatest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"

	"github.com/sluicehq/sluice/connectors/video"
)

// Tool returns the path of ffmpeg or ffprobe. Without it the test is skipped,
// or fails when SLUICE_REQUIRE_INTEGRATION=1 (CI installs Debian's ffmpeg:
// .ci/setup.d/50-ffmpeg.sh).
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SLUICE_REQUIRE_INTEGRATION") == "1" {
			tb.Fatalf("%s is required (SLUICE_REQUIRE_INTEGRATION=1): %v", name, err)
		}
		tb.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// Encode has ffmpeg encode seconds of a 320x240, 25 fps H.264 test pattern
// (a keyframe each second, so one Cluster a second), with a 440 Hz AAC tone
// when audio is set, to Matroska, and returns the file.
func Encode(tb testing.TB, seconds int, audio bool) []byte {
	tb.Helper()
	ff := Tool(tb, "ffmpeg")
	out := filepath.Join(tb.TempDir(), "pattern.mkv")
	args := []string{"-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"}
	if audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	args = append(args, "-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "ultrafast",
		"-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p")
	if audio {
		args = append(args, "-c:a", "aac", "-b:a", "64k")
	}
	args = append(args, "-cluster_time_limit", "1100", out)
	if b, err := exec.Command(ff, args...).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Fragment is one stored fragment: its metadata and Matroska.
type Fragment struct {
	Info video.FragmentInfo
	Data []byte
}

type srcDoc struct {
	Header  webm.EBMLHeader `ebml:"EBML"`
	Segment srcSegment      `ebml:"Segment"`
}

type srcSegment struct {
	Info    webm.Info      `ebml:"Info"`
	Tracks  srcTracks      `ebml:"Tracks"`
	Cluster []webm.Cluster `ebml:"Cluster"`
}

type srcTracks struct {
	TrackEntry []srcTrack `ebml:"TrackEntry"`
}

type srcTrack struct {
	TrackNumber     uint64      `ebml:"TrackNumber"`
	TrackUID        uint64      `ebml:"TrackUID"`
	CodecID         string      `ebml:"CodecID"`
	CodecPrivate    []byte      `ebml:"CodecPrivate,omitempty"`
	TrackType       uint64      `ebml:"TrackType"`
	DefaultDuration uint64      `ebml:"DefaultDuration,omitempty"`
	Audio           *webm.Audio `ebml:"Audio,omitempty"`
	Video           *webm.Video `ebml:"Video,omitempty"`
}

type outDoc struct {
	Header  webm.EBMLHeader `ebml:"EBML"`
	Segment outSegment      `ebml:"Segment"`
}

type outSegment struct {
	Info    outInfo      `ebml:"Info"`
	Tracks  srcTracks    `ebml:"Tracks"`
	Cluster webm.Cluster `ebml:"Cluster"`
	Tags    outTags      `ebml:"Tags"`
}

type outInfo struct {
	TimecodeScale uint64 `ebml:"TimecodeScale"`
	MuxingApp     string `ebml:"MuxingApp,omitempty"`
	WritingApp    string `ebml:"WritingApp,omitempty"`
}

type outTags struct {
	Tag []outTag `ebml:"Tag"`
}

type outTag struct {
	SimpleTag []outSimpleTag `ebml:"SimpleTag"`
}

type outSimpleTag struct {
	TagName   string `ebml:"TagName"`
	TagString string `ebml:"TagString"`
}

// Split cuts a Matroska file at its Clusters into fragments as the store
// keeps them. Fragment i is numbered firstNumber+i; its producer timestamp is
// base plus the cluster's timecode, which is rewritten to that absolute time
// in milliseconds (as Kinesis Video producers send it); its server timestamp
// is the producer's plus serverLag.
func Split(mkv []byte, base time.Time, firstNumber int64, serverLag time.Duration) ([]Fragment, error) {
	var doc srcDoc
	if err := ebml.Unmarshal(bytes.NewReader(mkv), &doc, ebml.WithIgnoreUnknown(true)); err != nil {
		return nil, fmt.Errorf("mediatest: reading Matroska: %w", err)
	}
	scale := doc.Segment.Info.TimecodeScale
	if scale != uint64(time.Millisecond) {
		return nil, fmt.Errorf("mediatest: TimecodeScale %d, want 1 ms", scale)
	}
	cl := doc.Segment.Cluster
	var out []Fragment
	for i, c := range cl {
		start := time.Duration(c.Timecode) * time.Millisecond
		var dur time.Duration
		if i+1 < len(cl) {
			dur = time.Duration(cl[i+1].Timecode)*time.Millisecond - start
		} else {
			var last int16
			for _, b := range c.SimpleBlock {
				last = max(last, b.Timecode)
			}
			dur = time.Duration(last)*time.Millisecond + 40*time.Millisecond
		}
		prod := base.Add(start)
		info := video.FragmentInfo{
			Number:            strconv.FormatInt(firstNumber+int64(i), 10),
			ProducerTimestamp: prod,
			ServerTimestamp:   prod.Add(serverLag),
			Duration:          dur,
		}
		data, err := document(doc.Segment.Tracks, c, uint64(prod.UnixMilli()), info)
		if err != nil {
			return nil, err
		}
		info.Size = int64(len(data))
		out = append(out, Fragment{Info: info, Data: data})
	}
	return out, nil
}

// document writes one fragment's Matroska: the cluster's timecode becomes tc
// (ms), and the fragment's number and timestamps become its Tags.
func document(tracks srcTracks, c webm.Cluster, tc uint64, info video.FragmentInfo) ([]byte, error) {
	c.Timecode = tc
	c.PrevSize = 0
	ts := func(t time.Time) string { return fmt.Sprintf("%d.%03d", t.Unix(), t.Nanosecond()/1e6) }
	d := outDoc{
		Header: webm.EBMLHeader{EBMLVersion: 1, EBMLReadVersion: 1, EBMLMaxIDLength: 4, EBMLMaxSizeLength: 8,
			DocType: "matroska", DocTypeVersion: 4, DocTypeReadVersion: 2},
		Segment: outSegment{
			Info:    outInfo{TimecodeScale: uint64(time.Millisecond), MuxingApp: "sluice-mediatest", WritingApp: "sluice-mediatest"},
			Tracks:  tracks,
			Cluster: c,
			Tags: outTags{Tag: []outTag{{SimpleTag: []outSimpleTag{
				{TagName: "AWS_KINESISVIDEO_FRAGMENT_NUMBER", TagString: info.Number},
				{TagName: "AWS_KINESISVIDEO_SERVER_TIMESTAMP", TagString: ts(info.ServerTimestamp)},
				{TagName: "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", TagString: ts(info.ProducerTimestamp)},
			}}}},
		},
	}
	var b bytes.Buffer
	if err := ebml.Marshal(&d, &b); err != nil {
		return nil, fmt.Errorf("mediatest: writing a fragment: %w", err)
	}
	return b.Bytes(), nil
}

// Archive is an in-memory video.Archive; Add may be called while readers
// read (a live stream).
type Archive struct {
	mu      sync.Mutex
	streams map[string]*memStream
}

type memStream struct {
	info  video.StreamInfo
	frags []Fragment
}

// NewArchive returns an empty archive.
func NewArchive() *Archive { return &Archive{streams: map[string]*memStream{}} }

// CreateStream adds a stream.
func (a *Archive) CreateStream(info video.StreamInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.streams[info.Name] = &memStream{info: info}
}

// Add appends fragments to a stream.
func (a *Archive) Add(stream string, fs ...Fragment) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.streams[stream]
	s.frags = append(s.frags, fs...)
}

func (a *Archive) find(name, arn string) (*memStream, error) {
	if name != "" {
		if s, ok := a.streams[name]; ok {
			return s, nil
		}
		return nil, fmt.Errorf("stream %q: %w", name, video.ErrStreamNotFound)
	}
	for _, s := range a.streams {
		if s.info.ARN == arn {
			return s, nil
		}
	}
	return nil, fmt.Errorf("stream %q: %w", arn, video.ErrStreamNotFound)
}

// Stream implements video.Archive.
func (a *Archive) Stream(_ context.Context, name, arn string) (video.StreamInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, err := a.find(name, arn)
	if err != nil {
		return video.StreamInfo{}, err
	}
	return s.info, nil
}

// Fragments implements video.Archive.
func (a *Archive) Fragments(_ context.Context, stream string, ts video.TimestampType, start, end time.Time) ([]video.FragmentInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, err := a.find(stream, "")
	if err != nil {
		return nil, err
	}
	var out []video.FragmentInfo
	for _, f := range s.frags {
		t := f.Info.ProducerTimestamp
		if ts == video.ServerTimestamp {
			t = f.Info.ServerTimestamp
		}
		if !t.Before(start) && !t.After(end) {
			out = append(out, f.Info)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.ParseInt(out[i].Number, 10, 64)
		b, _ := strconv.ParseInt(out[j].Number, 10, 64)
		return a < b
	})
	return out, nil
}

// Fragment implements video.Archive.
func (a *Archive) Fragment(_ context.Context, stream, number string) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, err := a.find(stream, "")
	if err != nil {
		return nil, err
	}
	for _, f := range s.frags {
		if f.Info.Number == number {
			return f.Data, nil
		}
	}
	return nil, fmt.Errorf("fragment %s: %w", number, video.ErrFragmentNotFound)
}

var _ video.Archive = (*Archive)(nil)
