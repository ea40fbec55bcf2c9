package archive_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/archive"
	"github.com/sluicehq/sluice/connectors/video/media/mediatest"
	"github.com/sluicehq/sluice/internal/clock"
)

// base is the producer time of the test stream's first fragment; the
// server received each fragment serverLag after its producer time.
var base = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)

const serverLag = 500 * time.Millisecond

const (
	streamName = "cam"
	streamARN  = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/cam/1765152000000"
	accessKey  = "AKIDVIDEOTEST"
	secretKey  = "video-test-secret"
)

var (
	encodeOnce sync.Once
	encoded    []byte
)

// pattern is 6 s of test pattern with sound, encoded once per test binary.
func pattern(t *testing.T) []byte {
	t.Helper()
	encodeOnce.Do(func() { encoded = mediatest.Encode(t, 6, true) })
	if encoded == nil {
		t.Fatal("the test pattern could not be encoded")
	}
	return encoded
}

func fragments(t *testing.T) []mediatest.Fragment {
	t.Helper()
	fs, err := mediatest.Split(pattern(t), base, 91343852333181432, serverLag)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

type env struct {
	t     *testing.T
	srv   *httptest.Server
	arch  *mediatest.Archive
	clk   *clock.Manual
	frags []mediatest.Fragment
	sign  bool
}

type envOpts struct {
	verify    bool
	noLimits  bool
	now       time.Time
	retention int
	empty     bool
}

// newEnv serves the handler over a stream holding the 6 fragments; the
// handler's clock starts an hour after the first.
func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.now.IsZero() {
		o.now = base.Add(time.Hour)
	}
	e := &env{t: t, arch: mediatest.NewArchive(), clk: clock.NewManual(o.now), frags: fragments(t)}
	ret := 24
	if o.retention != 0 {
		ret = max(o.retention, 0)
	}
	e.arch.CreateStream(video.StreamInfo{Name: streamName, ARN: streamARN, Status: "ACTIVE", DataRetentionInHours: ret, MediaType: "video/h264"})
	if !o.empty {
		e.arch.Add(streamName, e.frags...)
	}
	opts := []archive.Option{archive.WithClock(e.clk), archive.WithSecret([]byte("test key"))}
	if o.noLimits {
		opts = append(opts, archive.WithoutLimits())
	}
	if o.verify {
		opts = append(opts, archive.WithVerifier(verifySigV4))
		e.sign = true
	}
	e.srv = httptest.NewServer(archive.New(e.arch, opts...))
	t.Cleanup(e.srv.Close)
	return e
}

type reply struct {
	status  int
	errType string
	msg     string
	body    []byte
	header  http.Header
}

// call posts a JSON input to an operation's path, signed when the handler
// verifies signatures.
func (e *env) call(path string, in any) reply {
	e.t.Helper()
	var b []byte
	switch v := in.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(in); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if e.sign {
		sum := sha256.Sum256(b)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey},
			req, hex.EncodeToString(sum[:]), "kinesisvideo", "us-east-1", time.Now())
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return e.do(req)
}

func (e *env) get(u string) reply {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) reply {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, body: body, header: resp.Header}
	if et := resp.Header.Get("x-amzn-ErrorType"); et != "" {
		r.errType, _, _ = strings.Cut(et, ":")
		var m struct{ Message string }
		_ = json.Unmarshal(body, &m)
		r.msg = m.Message
	}
	return r
}

func (e *env) ok(r reply) reply {
	e.t.Helper()
	if r.status != http.StatusOK {
		e.t.Fatalf("status %d %s: %s", r.status, r.errType, r.body)
	}
	return r
}

func sec(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func selector(kind string, start, end time.Time) map[string]any {
	return map[string]any{"FragmentSelectorType": kind, "TimestampRange": map[string]any{"StartTimestamp": sec(start), "EndTimestamp": sec(end)}}
}

type listOut struct {
	Fragments []struct {
		FragmentNumber               string
		FragmentSizeInBytes          int64
		ProducerTimestamp            float64
		ServerTimestamp              float64
		FragmentLengthInMilliseconds int64
	}
	NextToken string
}

func TestListFragments(t *testing.T) {
	for _, verify := range []bool{false, true} {
		t.Run("verify="+strconv.FormatBool(verify), func(t *testing.T) {
			e := newEnv(t, envOpts{verify: verify, noLimits: true})
			// From fragment 2's producer time to fragment 5's: both ends are
			// inclusive.
			var all []string
			in := map[string]any{"StreamName": streamName, "MaxResults": 3, "FragmentSelector": selector("PRODUCER_TIMESTAMP", e.frags[1].Info.ProducerTimestamp, e.frags[4].Info.ProducerTimestamp)}
			var out listOut
			if err := json.Unmarshal(e.ok(e.call("/listFragments", in)).body, &out); err != nil {
				t.Fatal(err)
			}
			if len(out.Fragments) != 3 || out.NextToken == "" {
				t.Fatalf("first page %+v, want 3 fragments and a NextToken", out)
			}
			f := out.Fragments[0]
			fi := e.frags[1].Info
			if f.FragmentNumber != fi.Number || f.ProducerTimestamp != sec(fi.ProducerTimestamp) ||
				f.ServerTimestamp != sec(fi.ServerTimestamp) || f.FragmentLengthInMilliseconds != fi.Duration.Milliseconds() ||
				f.FragmentSizeInBytes != int64(len(e.frags[1].Data)) {
				t.Errorf("fragment %+v, want %+v", f, e.frags[1].Info)
			}
			for _, f := range out.Fragments {
				all = append(all, f.FragmentNumber)
			}
			in = map[string]any{"StreamARN": streamARN, "NextToken": out.NextToken}
			out = listOut{}
			if err := json.Unmarshal(e.ok(e.call("/listFragments", in)).body, &out); err != nil {
				t.Fatal(err)
			}
			for _, f := range out.Fragments {
				all = append(all, f.FragmentNumber)
			}
			want := []string{e.frags[1].Info.Number, e.frags[2].Info.Number, e.frags[3].Info.Number, e.frags[4].Info.Number}
			if strings.Join(all, ",") != strings.Join(want, ",") || out.NextToken != "" {
				t.Errorf("pages %v (next %q), want %v and no token", all, out.NextToken, want)
			}
			// Server time: from fragment 2's server timestamp, for half a
			// second.
			out = listOut{}
			in = map[string]any{"StreamName": streamName, "FragmentSelector": selector("SERVER_TIMESTAMP", fi.ServerTimestamp, fi.ServerTimestamp.Add(500*time.Millisecond))}
			if err := json.Unmarshal(e.ok(e.call("/listFragments", in)).body, &out); err != nil {
				t.Fatal(err)
			}
			if len(out.Fragments) != 1 || out.Fragments[0].FragmentNumber != e.frags[1].Info.Number {
				t.Errorf("server-time range: %+v, want fragment 2 alone", out.Fragments)
			}
		})
	}
}

func TestGetMediaForFragmentList(t *testing.T) {
	e := newEnv(t, envOpts{noLimits: true})
	r := e.ok(e.call("/getMediaForFragmentList", map[string]any{"StreamName": streamName, "Fragments": []string{e.frags[2].Info.Number, e.frags[0].Info.Number}}))
	want := append(bytes.Clone(e.frags[2].Data), e.frags[0].Data...)
	if !bytes.Equal(r.body, want) || r.header.Get("Content-Type") != "video/webm" {
		t.Errorf("got %d bytes (%s), want fragments 3 and 1 as stored (%d bytes)", len(r.body), r.header.Get("Content-Type"), len(want))
	}
	// A fragment the stream does not have: a tags chunk in its place.
	r = e.ok(e.call("/getMediaForFragmentList", map[string]any{"StreamName": streamName, "Fragments": []string{"12345", e.frags[0].Info.Number}}))
	if !bytes.HasSuffix(r.body, e.frags[0].Data) || !bytes.Contains(r.body, []byte("FRAGMENT_NOT_FOUND")) || !bytes.Contains(r.body, []byte("12345")) {
		t.Errorf("missing fragment: %q", r.body[:min(len(r.body), 200)])
	}
}

func TestErrors(t *testing.T) {
	for _, verify := range []bool{false, true} {
		t.Run("verify="+strconv.FormatBool(verify), func(t *testing.T) {
			e := newEnv(t, envOpts{verify: verify, noLimits: true})
			now := e.clk.Now()
			for _, c := range []struct {
				name, path string
				in         any
				status     int
				errType    string
				msg        string
			}{
				{"unknown stream", "/listFragments", map[string]any{"StreamName": "nope", "FragmentSelector": selector("SERVER_TIMESTAMP", base, now)},
					404, "ResourceNotFoundException", "The requested stream is not found or not active."},
				{"bad name", "/listFragments", map[string]any{"StreamName": "a b", "FragmentSelector": selector("SERVER_TIMESTAMP", base, now)},
					400, "InvalidArgumentException", "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
				{"max results", "/listFragments", map[string]any{"StreamName": streamName, "MaxResults": 0, "FragmentSelector": map[string]any{"TimestampRange": map[string]any{"StartTimestamp": 1}}},
					400, "InvalidArgumentException", "3 validation errors detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1; Value null at 'fragmentSelector.fragmentSelectorType' failed to satisfy constraint: Member must not be null; Value null at 'fragmentSelector.timestampRange.endTimestamp' failed to satisfy constraint: Member must not be null"},
				{"no selector", "/listFragments", map[string]any{"StreamName": streamName},
					400, "InvalidArgumentException", "FragmentSelector is required when NextToken is not given."},
				{"bad token", "/listFragments", map[string]any{"StreamName": streamName, "NextToken": "AAAA"},
					400, "InvalidArgumentException", "NextToken is not valid: AAAA"},
				{"no stream", "/listFragments", map[string]any{"FragmentSelector": selector("SERVER_TIMESTAMP", base, now)},
					400, "InvalidArgumentException", "Either StreamName or StreamARN must be specified."},
				{"retention", "/listFragments", map[string]any{"StreamName": streamName, "FragmentSelector": selector("SERVER_TIMESTAMP", base.Add(-48*time.Hour), base.Add(-25*time.Hour))},
					400, "InvalidArgumentException", "End timestamp " + strconv.FormatInt(base.Add(-25*time.Hour).UnixMilli(), 10) + " is outside of the stream retention period."},
				{"not json", "/listFragments", "{", 400, "SerializationException", ""},
				{"fragments empty", "/getMediaForFragmentList", map[string]any{"StreamName": streamName, "Fragments": []string{}},
					400, "InvalidArgumentException", "1 validation error detected: Value '[]' at 'fragments' failed to satisfy constraint: Member must have length greater than or equal to 1"},
				{"fragment number", "/getMediaForFragmentList", map[string]any{"StreamName": streamName, "Fragments": []string{"12x"}},
					400, "InvalidArgumentException", "1 validation error detected: Value '12x' at 'fragments.1.member' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9]+$"},
				{"clip selector", "/getClip", map[string]any{"StreamName": streamName},
					400, "InvalidArgumentException", "1 validation error detected: Value null at 'clipFragmentSelector' failed to satisfy constraint: Member must not be null"},
				{"clip order", "/getClip", map[string]any{"StreamName": streamName, "ClipFragmentSelector": selector("PRODUCER_TIMESTAMP", base.Add(time.Second), base)},
					400, "InvalidArgumentException", "EndTimestamp must be later than StartTimestamp."},
				{"clip 24h", "/getClip", map[string]any{"StreamName": streamName, "ClipFragmentSelector": selector("PRODUCER_TIMESTAMP", base.Add(-25*time.Hour), base)},
					400, "InvalidArgumentException", "EndTimestamp must be within 24 hours of StartTimestamp."},
				{"clip future", "/getClip", map[string]any{"StreamName": streamName, "ClipFragmentSelector": selector("SERVER_TIMESTAMP", base, now.Add(time.Minute))},
					400, "InvalidArgumentException", "EndTimestamp must be in the past when FragmentSelectorType is SERVER_TIMESTAMP."},
				{"clip empty", "/getClip", map[string]any{"StreamName": streamName, "ClipFragmentSelector": selector("PRODUCER_TIMESTAMP", base.Add(-time.Hour), base.Add(-time.Minute))},
					404, "ResourceNotFoundException", "No fragments found in the stream for the clip request."},
				{"hls live range", "/getHLSStreamingSessionURL", map[string]any{"StreamName": streamName, "PlaybackMode": "LIVE", "HLSFragmentSelector": selector("SERVER_TIMESTAMP", base, now)},
					400, "InvalidArgumentException", "TimestampRange must not be set when PlaybackMode is LIVE."},
				{"hls live stale", "/getHLSStreamingSessionURL", map[string]any{"StreamName": streamName},
					404, "ResourceNotFoundException", "No fragments found in the stream for the streaming request."},
				{"hls on demand end", "/getHLSStreamingSessionURL", map[string]any{"StreamName": streamName, "PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": map[string]any{"TimestampRange": map[string]any{"StartTimestamp": sec(base)}}},
					400, "InvalidArgumentException", "EndTimestamp is required when PlaybackMode is ON_DEMAND."},
				{"hls replay start", "/getHLSStreamingSessionURL", map[string]any{"StreamName": streamName, "PlaybackMode": "LIVE_REPLAY"},
					400, "InvalidArgumentException", "HLSFragmentSelector with a TimestampRange and its StartTimestamp is required when PlaybackMode is LIVE_REPLAY."},
				{"hls enums", "/getHLSStreamingSessionURL", map[string]any{"StreamName": streamName, "PlaybackMode": "VOD", "Expires": 10, "MaxMediaPlaylistFragmentResults": 5001, "DiscontinuityMode": "SOMETIMES"},
					400, "InvalidArgumentException", "4 validation errors detected: Value 'VOD' at 'playbackMode' failed to satisfy constraint: Member must satisfy enum value set: [LIVE, LIVE_REPLAY, ON_DEMAND]; Value 'SOMETIMES' at 'discontinuityMode' failed to satisfy constraint: Member must satisfy enum value set: [ALWAYS, NEVER, ON_DISCONTINUITY]; Value '10' at 'expires' failed to satisfy constraint: Member must have value greater than or equal to 300; Value '5001' at 'maxMediaPlaylistFragmentResults' failed to satisfy constraint: Member must have value less than or equal to 5000"},
				{"hls mpeg-ts", "/getHLSStreamingSessionURL", map[string]any{"StreamName": streamName, "PlaybackMode": "ON_DEMAND", "ContainerFormat": "MPEG_TS", "HLSFragmentSelector": selector("PRODUCER_TIMESTAMP", base, base.Add(time.Second))},
					400, "InvalidArgumentException", "ContainerFormat MPEG_TS is not supported by this server: use FRAGMENTED_MP4."},
				{"unknown op", "/getImages", map[string]any{}, 404, "UnknownOperationException", ""},
			} {
				r := e.call(c.path, c.in)
				if r.status != c.status || r.errType != c.errType || (c.msg != "" && r.msg != c.msg) {
					t.Errorf("%s: %d %s %q, want %d %s %q", c.name, r.status, r.errType, r.msg, c.status, c.errType, c.msg)
				}
			}
		})
	}
}

func TestSignatureRefused(t *testing.T) {
	e := newEnv(t, envOpts{verify: true})
	e.sign = false
	r := e.call("/listFragments", map[string]any{"StreamName": streamName, "FragmentSelector": selector("SERVER_TIMESTAMP", base, base.Add(time.Minute))})
	if r.status != http.StatusForbidden || r.errType == "" || r.msg == "" {
		t.Errorf("unsigned request: %d %s %q, want 403 with the verifier's error", r.status, r.errType, r.msg)
	}
}

func TestNoDataRetention(t *testing.T) {
	e := newEnv(t, envOpts{retention: -1})
	r := e.call("/getClip", map[string]any{"StreamName": streamName, "ClipFragmentSelector": selector("PRODUCER_TIMESTAMP", base, base.Add(time.Second))})
	if r.status != 400 || r.errType != "NoDataRetentionException" {
		t.Errorf("clip of a stream without retention: %d %s %q", r.status, r.errType, r.msg)
	}
	r = e.call("/getHLSStreamingSessionURL", map[string]any{"StreamName": streamName})
	if r.status != 400 || r.errType != "NoDataRetentionException" {
		t.Errorf("HLS of a stream without retention: %d %s %q", r.status, r.errType, r.msg)
	}
}

func TestUnsupportedMedia(t *testing.T) {
	e := newEnv(t, envOpts{empty: true})
	// A fragment whose codec private data is cut short, and one that is not
	// Matroska at all.
	bad := mediatest.Fragment{Info: video.FragmentInfo{Number: "7", ProducerTimestamp: base, ServerTimestamp: base, Duration: time.Second}, Data: []byte("not matroska")}
	bad.Info.Size = int64(len(bad.Data))
	e.arch.Add(streamName, bad)
	r := e.call("/getClip", map[string]any{"StreamName": streamName, "ClipFragmentSelector": selector("PRODUCER_TIMESTAMP", base, base.Add(time.Second))})
	if r.status != 400 || r.errType != "InvalidMediaFrameException" {
		t.Errorf("clip of a broken fragment: %d %s %q", r.status, r.errType, r.msg)
	}
	r = e.call("/getHLSStreamingSessionURL", map[string]any{"StreamName": streamName, "PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": selector("PRODUCER_TIMESTAMP", base, base.Add(time.Second))})
	if r.status != 400 || r.errType != "InvalidMediaFrameException" {
		t.Errorf("HLS of a broken fragment: %d %s %q", r.status, r.errType, r.msg)
	}
}

func TestThrottling(t *testing.T) {
	e := newEnv(t, envOpts{})
	in := map[string]any{"StreamName": streamName, "FragmentSelector": selector("SERVER_TIMESTAMP", base, base.Add(time.Minute))}
	for i := 0; i < 10; i++ {
		e.ok(e.call("/listFragments", in))
	}
	r := e.call("/listFragments", in)
	if r.status != 400 || r.errType != "ClientLimitExceededException" ||
		r.msg != "Kinesis Video Streams has throttled the request because you have exceeded a limit. Try making the call later." {
		t.Errorf("11th ListFragments in a second: %d %s %q", r.status, r.errType, r.msg)
	}
	e.clk.Advance(time.Second)
	e.ok(e.call("/listFragments", in))
}

// aws runs the AWS CLI (botocore's own client of the service model) against
// the server.
func (e *env) aws(args ...string) ([]byte, error) {
	e.t.Helper()
	cli, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("SLUICE_REQUIRE_INTEGRATION") == "1" {
			e.t.Fatalf("the AWS CLI is required (SLUICE_REQUIRE_INTEGRATION=1): %v", err)
		}
		e.t.Skipf("the AWS CLI is not installed: %v", err)
	}
	cmd := exec.Command(cli, append([]string{"kinesis-video-archived-media", "--endpoint-url", e.srv.URL, "--region", "us-east-1", "--output", "json"}, args...)...)
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			environ = append(environ, kv)
		}
	}
	cmd.Env = append(environ, "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New(strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func TestAWSCLI(t *testing.T) {
	e := newEnv(t, envOpts{verify: true, noLimits: true})
	sel := func(kind string, from, to time.Time) string {
		b, _ := json.Marshal(selector(kind, from, to))
		return string(b)
	}
	// list-fragments: the CLI pages with NextToken, two at a time.
	out, err := e.aws("list-fragments", "--stream-name", streamName, "--page-size", "2", "--fragment-selector", sel("PRODUCER_TIMESTAMP", base, base.Add(10*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	var lo listOut
	if err := json.Unmarshal(out, &lo); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(lo.Fragments) != len(e.frags) {
		t.Errorf("list-fragments: %d fragments, want %d", len(lo.Fragments), len(e.frags))
	}
	dir := t.TempDir()
	// get-media-for-fragment-list.
	if _, err := e.aws("get-media-for-fragment-list", "--fragments", e.frags[0].Info.Number, e.frags[1].Info.Number, "--stream-name", streamName, dir+"/media.mkv"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dir + "/media.mkv")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(bytes.Clone(e.frags[0].Data), e.frags[1].Data...)) {
		t.Errorf("get-media-for-fragment-list: %d bytes, not the two fragments", len(got))
	}
	// get-clip: fragments 3, 4 and 5 (the CLI sends whole seconds).
	out, err = e.aws("get-clip", "--stream-name", streamName, "--clip-fragment-selector", sel("PRODUCER_TIMESTAMP", e.frags[2].Info.ProducerTimestamp, e.frags[5].Info.ProducerTimestamp.Add(-time.Millisecond)), dir+"/clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "video/mp4") {
		t.Errorf("get-clip output %s, want ContentType video/mp4", out)
	}
	checkProbe(t, dir+"/clip.mp4", length(e.frags[2:5]))
	// get-hls-streaming-session-url, ON_DEMAND over the whole stream.
	out, err = e.aws("get-hls-streaming-session-url", "--stream-name", streamName, "--playback-mode", "ON_DEMAND",
		"--hls-fragment-selector", sel("PRODUCER_TIMESTAMP", base, base.Add(10*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	var hls struct{ HLSStreamingSessionURL string }
	if err := json.Unmarshal(out, &hls); err != nil || !strings.HasPrefix(hls.HLSStreamingSessionURL, e.srv.URL+"/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=") {
		t.Fatalf("get-hls-streaming-session-url: %s (%v)", out, err)
	}
	// Errors as the CLI reports them.
	_, err = e.aws("get-clip", "--stream-name", "nope", "--clip-fragment-selector", sel("PRODUCER_TIMESTAMP", base, base.Add(time.Second)), dir+"/x.mp4")
	if err == nil || !strings.Contains(err.Error(), "An error occurred (ResourceNotFoundException) when calling the GetClip operation: The requested stream is not found or not active.") {
		t.Errorf("get-clip of an unknown stream: %v", err)
	}
	_, err = e.aws("list-fragments", "--stream-name", streamName, "--max-results", "1", "--next-token", "AAAA")
	if err == nil || !strings.Contains(err.Error(), "(InvalidArgumentException) when calling the ListFragments operation: NextToken is not valid: AAAA") {
		t.Errorf("list-fragments with a bad token: %v", err)
	}
}

// length is how long fragments play, in seconds.
func length(fs []mediatest.Fragment) float64 {
	var d time.Duration
	for _, f := range fs {
		d += f.Info.Duration
	}
	return d.Seconds()
}
