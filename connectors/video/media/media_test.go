package media_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/video/media"
	"github.com/sluicehq/sluice/connectors/video/media/mediatest"
)

var base = time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)

func fragments(t *testing.T, seconds int, audio bool) ([]mediatest.Fragment, []*media.Fragment) {
	t.Helper()
	raw, err := mediatest.Split(mediatest.Encode(t, seconds, audio), base, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != seconds {
		t.Fatalf("%d fragments from %d s, want one a second", len(raw), seconds)
	}
	var out []*media.Fragment
	for _, r := range raw {
		f, err := media.ReadFragment(r.Data)
		if err != nil {
			t.Fatalf("fragment %s: %v", r.Info.Number, err)
		}
		out = append(out, f)
	}
	return raw, out
}

func TestReadFragment(t *testing.T) {
	raw, frags := fragments(t, 3, true)
	for i, f := range frags {
		if got := f.Tags["AWS_KINESISVIDEO_FRAGMENT_NUMBER"]; got != raw[i].Info.Number {
			t.Errorf("fragment %d: number tag %q, want %q", i, got, raw[i].Info.Number)
		}
		if f.Timecode != time.Duration(raw[i].Info.ProducerTimestamp.UnixMilli())*time.Millisecond {
			t.Errorf("fragment %d: cluster at %v, want the producer timestamp", i, f.Timecode)
		}
		if len(f.Tracks) != 2 || f.Tracks[0].CodecID != media.CodecH264 || f.Tracks[1].CodecID != media.CodecAAC {
			t.Fatalf("fragment %d: tracks %+v", i, f.Tracks)
		}
		var video, keys int
		for _, fr := range f.Frames {
			if fr.Track == 1 {
				video++
				if fr.Keyframe {
					keys++
				}
			}
		}
		if video != 25 || keys != 1 || !f.Frames[0].Keyframe {
			t.Errorf("fragment %d: %d video frames, %d keyframes (first key %v), want 25 and 1", i, video, keys, f.Frames[0].Keyframe)
		}
	}
}

type probe struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		CodecType string `json:"codec_type"`
		NbFrames  string `json:"nb_read_frames"`
		Width     int    `json:"width"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

// ffprobe reads what ffmpeg's own demuxer and decoders make of a file or URL.
func ffprobe(t *testing.T, target string) probe {
	t.Helper()
	fp := mediatest.Tool(t, "ffprobe")
	out, err := exec.Command(fp, "-v", "error", "-count_frames", "-show_entries",
		"stream=codec_name,codec_type,nb_read_frames,width:format=duration", "-of", "json", target).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("ffprobe %s: %v\n%s", target, err, ee.Stderr)
		}
		t.Fatalf("ffprobe %s: %v", target, err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	return p
}

func TestClipPlaysInFFprobe(t *testing.T) {
	for _, audio := range []bool{false, true} {
		t.Run("audio="+strconv.FormatBool(audio), func(t *testing.T) {
			_, frags := fragments(t, 4, audio)
			clip, err := media.Clip(frags[1:]) // fragments 2..4: 3 s
			if err != nil {
				t.Fatal(err)
			}
			if boxes := topBoxes(t, clip); boxes != "ftyp moov mdat" {
				t.Errorf("top-level boxes %q, want a traditional MP4's ftyp moov mdat", boxes)
			}
			path := filepath.Join(t.TempDir(), "clip.mp4")
			if err := os.WriteFile(path, clip, 0o644); err != nil {
				t.Fatal(err)
			}
			p := ffprobe(t, path)
			d, err := strconv.ParseFloat(p.Format.Duration, 64)
			if err != nil {
				t.Fatalf("duration %q: %v", p.Format.Duration, err)
			}
			if math.Abs(d-3) > 0.04 {
				t.Errorf("duration %.3f s, want 3 s within a frame", d)
			}
			want := 1
			if audio {
				want = 2
			}
			if len(p.Streams) != want {
				t.Fatalf("streams %+v, want %d", p.Streams, want)
			}
			if p.Streams[0].CodecName != "h264" || p.Streams[0].NbFrames != "75" || p.Streams[0].Width != 320 {
				t.Errorf("video stream %+v, want h264, 75 frames, 320 wide", p.Streams[0])
			}
			if audio && p.Streams[1].CodecName != "aac" {
				t.Errorf("audio stream %+v, want aac", p.Streams[1])
			}
		})
	}
}

func TestLayoutRefusals(t *testing.T) {
	_, frags := fragments(t, 2, false)
	f := *frags[0]
	tr := f.Tracks[0]

	f.Tracks = []media.Track{tr}
	f.Tracks[0].CodecID = "V_MPEGH/ISO/HEVC"
	if _, err := media.NewLayout(&f); !errors.Is(err, media.ErrUnsupportedMedia) {
		t.Errorf("HEVC: %v, want ErrUnsupportedMedia", err)
	}
	f.Tracks = []media.Track{tr}
	f.Tracks[0].CodecPrivate = nil
	if _, err := media.NewLayout(&f); !errors.Is(err, media.ErrMissingCodecPrivate) {
		t.Errorf("no codec private: %v, want ErrMissingCodecPrivate", err)
	}
	f.Tracks = []media.Track{tr}
	f.Tracks[0].CodecPrivate = []byte{1, 2, 3, 4, 5, 6, 7}
	if _, err := media.NewLayout(&f); !errors.Is(err, media.ErrInvalidCodecPrivate) {
		t.Errorf("bad avcC: %v, want ErrInvalidCodecPrivate", err)
	}
	// A clip whose second fragment's codec private data differs.
	g := *frags[1]
	g.Tracks = []media.Track{tr}
	g.Tracks[0].CodecPrivate = bytes.Clone(tr.CodecPrivate)
	g.Tracks[0].CodecPrivate[len(tr.CodecPrivate)-1] ^= 0xff
	if _, err := media.Clip([]*media.Fragment{frags[0], &g}); !errors.Is(err, media.ErrInvalidCodecPrivate) {
		t.Errorf("codec private changed mid-clip: %v, want ErrInvalidCodecPrivate", err)
	}
	// Timecodes going backwards: the second fragment before the first.
	if _, err := media.Clip([]*media.Fragment{frags[1], frags[0]}); !errors.Is(err, media.ErrInvalidFrame) {
		t.Errorf("backwards: %v, want ErrInvalidFrame", err)
	}
}

func TestReadFragmentRefusals(t *testing.T) {
	raw, _ := fragments(t, 2, false)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("hello, not matroska"),
		"truncated": raw[0].Data[:len(raw[0].Data)/2],
		"two files": append(bytes.Clone(raw[0].Data[:60]), raw[1].Data...),
	} {
		if _, err := media.ReadFragment(b); !errors.Is(err, media.ErrNotMatroska) {
			t.Errorf("%s: %v, want ErrNotMatroska", name, err)
		}
	}
}

// topBoxes lists an MP4's top-level box types.
func topBoxes(t *testing.T, b []byte) string {
	t.Helper()
	var types []string
	for len(b) >= 8 {
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if n < 8 || n > len(b) {
			t.Fatalf("box of size %d with %d bytes left", n, len(b))
		}
		types = append(types, string(b[4:8]))
		b = b[n:]
	}
	return strings.Join(types, " ")
}
