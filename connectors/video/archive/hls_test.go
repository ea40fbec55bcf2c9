package archive_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/video/media/mediatest"
)

// checkProbe has ffprobe decode target (a file or a URL) and checks its
// duration (within a frame at 25 fps) and that its video is H.264.
func checkProbe(t *testing.T, target string, wantSeconds float64) {
	t.Helper()
	fp := mediatest.Tool(t, "ffprobe")
	out, err := exec.Command(fp, "-v", "error", "-show_entries", "stream=codec_name,codec_type:format=duration", "-of", "json", target).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("ffprobe %s: %v\n%s", target, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var p struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
			CodecType string `json:"codec_type"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	d, err := strconv.ParseFloat(p.Format.Duration, 64)
	if err != nil || math.Abs(d-wantSeconds) > 0.04 {
		t.Errorf("ffprobe %s: duration %q, want %.3f s within a frame", target, p.Format.Duration, wantSeconds)
	}
	var codecs []string
	for _, s := range p.Streams {
		codecs = append(codecs, s.CodecType+":"+s.CodecName)
	}
	if len(codecs) == 0 || codecs[0] != "video:h264" {
		t.Errorf("ffprobe %s: streams %v, want video:h264 first", target, codecs)
	}
}

func (e *env) session(in map[string]any) string {
	e.t.Helper()
	in["StreamName"] = streamName
	var out struct{ HLSStreamingSessionURL string }
	if err := json.Unmarshal(e.ok(e.call("/getHLSStreamingSessionURL", in)).body, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.HLSStreamingSessionURL
}

// resolve is ref (a playlist's line) against the playlist at from.
func resolve(t *testing.T, from, ref string) string {
	t.Helper()
	b, err := url.Parse(from)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b.ResolveReference(r).String()
}

// mediaPlaylist fetches the master playlist and the media playlist it
// names.
func (e *env) mediaPlaylist(master string) (string, string) {
	e.t.Helper()
	m := string(e.ok(e.get(master)).body)
	lines := strings.Split(strings.TrimSpace(m), "\n")
	if !strings.HasPrefix(m, "#EXTM3U\n") || !strings.Contains(m, `CODECS="avc1.`) || !strings.Contains(m, "RESOLUTION=320x240") {
		e.t.Fatalf("master playlist:\n%s", m)
	}
	u := resolve(e.t, master, lines[len(lines)-1])
	return u, string(e.ok(e.get(u)).body)
}

func count(pl, prefix string) int {
	n := 0
	for _, l := range strings.Split(pl, "\n") {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func TestHLSOnDemandPlaysInFFprobe(t *testing.T) {
	e := newEnv(t, envOpts{noLimits: true})
	u := e.session(map[string]any{"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": selector("PRODUCER_TIMESTAMP", base, base.Add(time.Minute))})
	checkProbe(t, u, length(e.frags))
}

func TestHLSOnDemandPlaylist(t *testing.T) {
	e := newEnv(t, envOpts{noLimits: true})
	_, pl := e.mediaPlaylist(e.session(map[string]any{"PlaybackMode": "ON_DEMAND", "DisplayFragmentTimestamp": "ALWAYS",
		"HLSFragmentSelector": selector("PRODUCER_TIMESTAMP", base, base.Add(time.Minute))}))
	if count(pl, "#EXTINF:") != 6 || count(pl, "#EXT-X-ENDLIST") != 1 || count(pl, "#EXT-X-PLAYLIST-TYPE:VOD") != 1 ||
		count(pl, "#EXT-X-DISCONTINUITY") != 0 || count(pl, "#EXT-X-MEDIA-SEQUENCE:0") != 1 || count(pl, "#EXT-X-MAP:URI=") != 1 {
		t.Errorf("ON_DEMAND playlist:\n%s", pl)
	}
	if !strings.Contains(pl, "#EXT-X-PROGRAM-DATE-TIME:"+e.frags[2].Info.ProducerTimestamp.Format("2006-01-02T15:04:05.000Z")+"\n") {
		t.Errorf("no producer timestamp of fragment 3 in:\n%s", pl)
	}
	// Server timestamps: a discontinuity between every two fragments by
	// default; MaxMediaPlaylistFragmentResults takes the oldest.
	_, pl = e.mediaPlaylist(e.session(map[string]any{"PlaybackMode": "ON_DEMAND", "MaxMediaPlaylistFragmentResults": 4,
		"HLSFragmentSelector": selector("SERVER_TIMESTAMP", base, base.Add(time.Minute))}))
	if count(pl, "#EXTINF:") != 4 || count(pl, "#EXT-X-DISCONTINUITY") != 3 || !strings.Contains(pl, "FragmentNumber="+e.frags[0].Info.Number+"&") {
		t.Errorf("SERVER_TIMESTAMP playlist of 4:\n%s", pl)
	}
	// ON_DISCONTINUITY: the stream's fragments follow each other exactly.
	_, pl = e.mediaPlaylist(e.session(map[string]any{"PlaybackMode": "ON_DEMAND", "DiscontinuityMode": "ON_DISCONTINUITY",
		"HLSFragmentSelector": selector("SERVER_TIMESTAMP", base, base.Add(time.Minute))}))
	if count(pl, "#EXT-X-DISCONTINUITY") != 0 {
		t.Errorf("ON_DISCONTINUITY playlist of contiguous fragments:\n%s", pl)
	}
}

func TestHLSSegments(t *testing.T) {
	e := newEnv(t, envOpts{noLimits: true})
	master := e.session(map[string]any{"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": selector("PRODUCER_TIMESTAMP", base, base.Add(time.Minute))})
	mu, pl := e.mediaPlaylist(master)
	var segs []string
	for _, l := range strings.Split(pl, "\n") {
		if strings.HasPrefix(l, "getMP4MediaFragment.mp4?") {
			segs = append(segs, resolve(t, mu, l))
		}
	}
	init := e.ok(e.get(resolve(t, mu, "getMP4InitFragment.mp4?SessionToken="+url.QueryEscape(token(t, master)))))
	if init.header.Get("Content-Type") != "video/mp4" || string(init.body[4:8]) != "ftyp" {
		t.Errorf("init fragment: %s %q", init.header.Get("Content-Type"), init.body[:8])
	}
	seg := e.ok(e.get(segs[2]))
	if string(seg.body[4:8]) != "moof" {
		t.Errorf("media fragment starts %q, want a moof", seg.body[:8])
	}
	// A fragment number outside the session, and a tampered token.
	r := e.get(resolve(t, mu, "getMP4MediaFragment.mp4?FragmentNumber=1&SessionToken="+url.QueryEscape(token(t, master))))
	if r.status != 404 || r.errType != "ResourceNotFoundException" {
		t.Errorf("fragment outside the session: %d %s %q", r.status, r.errType, r.msg)
	}
	tok := token(t, master)
	r = e.get(resolve(t, mu, "getHLSMediaPlaylist.m3u8?SessionToken="+url.QueryEscape("x"+tok[1:])))
	if r.status != 403 || r.errType != "NotAuthorizedException" {
		t.Errorf("tampered token: %d %s %q", r.status, r.errType, r.msg)
	}
}

func token(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query().Get("SessionToken")
}

func TestHLSLive(t *testing.T) {
	e := newEnv(t, envOpts{empty: true, noLimits: true, now: base})
	// Fragment k reaches the server about k s + 500 ms.
	e.arch.Add(streamName, e.frags[:2]...)
	e.clk.Set(base.Add(2 * time.Second))
	master := e.session(map[string]any{"PlaybackMode": "LIVE", "Expires": 600})
	_, pl := e.mediaPlaylist(master)
	if count(pl, "#EXTINF:") != 2 || count(pl, "#EXT-X-ENDLIST") != 0 || count(pl, "#EXT-X-PLAYLIST-TYPE") != 0 {
		t.Fatalf("LIVE playlist at 2 s:\n%s", pl)
	}
	e.arch.Add(streamName, e.frags[2:4]...)
	e.clk.Set(base.Add(4 * time.Second))
	if _, pl = e.mediaPlaylist(master); count(pl, "#EXTINF:") != 4 {
		t.Errorf("LIVE playlist at 4 s, after two more fragments:\n%s", pl)
	}
	e.arch.Add(streamName, e.frags[4:]...)
	e.clk.Set(base.Add(6 * time.Second))
	// Five fragments at most by default: the oldest slid out.
	if _, pl = e.mediaPlaylist(master); count(pl, "#EXTINF:") != 5 || count(pl, "#EXT-X-MEDIA-SEQUENCE:1") != 1 ||
		strings.Contains(pl, "FragmentNumber="+e.frags[0].Info.Number+"&") {
		t.Errorf("LIVE playlist at 6 s:\n%s", pl)
	}
	// Expires: 600 s after the session began the URL stops working.
	e.clk.Set(base.Add(2*time.Second + 599*time.Second))
	e.ok(e.get(master))
	e.clk.Advance(time.Second)
	r := e.get(master)
	if r.status != 403 || r.errType != "NotAuthorizedException" || r.msg != "Streaming session token is expired" {
		t.Errorf("expired session: %d %s %q", r.status, r.errType, r.msg)
	}
}

func TestHLSLiveReplay(t *testing.T) {
	e := newEnv(t, envOpts{noLimits: true})
	start := e.clk.Now()
	// From the 2nd fragment, open-ended: a fragment is added each time the
	// one before it has played.
	master := e.session(map[string]any{"PlaybackMode": "LIVE_REPLAY", "HLSFragmentSelector": map[string]any{
		"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": map[string]any{"StartTimestamp": sec(e.frags[1].Info.ProducerTimestamp)}}})
	played := time.Duration(0)
	for i, want := range []int{1, 2, 3} {
		if i > 0 {
			played += e.frags[i].Info.Duration
		}
		e.clk.Set(start.Add(played))
		if _, pl := e.mediaPlaylist(master); count(pl, "#EXTINF:") != want || count(pl, "#EXT-X-ENDLIST") != 0 {
			t.Errorf("LIVE_REPLAY after %d s: want %d fragments:\n%s", i, want, pl)
		}
	}
	e.clk.Set(start.Add(10 * time.Second))
	if _, pl := e.mediaPlaylist(master); count(pl, "#EXTINF:") != 5 || count(pl, "#EXT-X-ENDLIST") != 0 {
		t.Errorf("open LIVE_REPLAY after 10 s:\n%s", pl)
	}
	// With an end (fragments 2 and 3): the list ends once all of the range
	// has been added.
	start = e.clk.Now()
	master = e.session(map[string]any{"PlaybackMode": "LIVE_REPLAY", "HLSFragmentSelector": selector("PRODUCER_TIMESTAMP", e.frags[1].Info.ProducerTimestamp, e.frags[2].Info.ProducerTimestamp)})
	if _, pl := e.mediaPlaylist(master); count(pl, "#EXT-X-ENDLIST") != 0 {
		t.Errorf("LIVE_REPLAY at its start ended:\n%s", pl)
	}
	e.clk.Set(start.Add(5 * time.Second))
	if _, pl := e.mediaPlaylist(master); count(pl, "#EXTINF:") != 2 || count(pl, "#EXT-X-ENDLIST") != 1 {
		t.Errorf("LIVE_REPLAY past its end:\n%s", pl)
	}
}
