package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/media/mediatest"
	"github.com/sluicehq/sluice/connectors/video/videoapi"
)

// archivedCall signs and posts one archived-media request.
func archivedCall(t *testing.T, addr, path string, in map[string]any) (int, []byte) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"},
		req, hex.EncodeToString(sum[:]), videoapi.SigningName, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// Fragments put through `sluice serve` play back through its archived-media
// API: listed, clipped to an MP4 and served as HLS, both of which ffprobe
// reads.
func TestArchivedMediaOverServe(t *testing.T) {
	ffprobe := mediatest.Tool(t, "ffprobe")
	e := startEnvWith(t, t.TempDir(), func(o *Options) { o.Video = true })
	ctx := context.Background()
	cl := &videoapi.Client{Endpoint: "http://" + e.addr, Region: "us-east-1", Credentials: aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}}
	if code, out := archivedCall(t, e.addr, "/createStream", map[string]any{"StreamName": "cam", "DataRetentionInHours": 1}); code != 200 {
		t.Fatalf("createStream: %d %s", code, out)
	}
	body, err := os.Open(filepath.Join("..", "..", "connectors", "video", "testdata", "testsrc.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	persisted := 0
	if err := cl.PutMedia(ctx, videoapi.PutMediaInput{StreamName: "cam", TimecodeType: "ABSOLUTE", Body: body}, func(a video.Ack) {
		if a.EventType == video.AckPersisted {
			persisted++
		}
	}); err != nil {
		t.Fatal(err)
	}
	rng := map[string]any{"StartTimestamp": time.Now().Add(-10 * time.Minute).Unix(), "EndTimestamp": float64(time.Now().UnixMilli()) / 1000}
	code, out := archivedCall(t, e.addr, "/listFragments", map[string]any{"StreamName": "cam",
		"FragmentSelector": map[string]any{"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": rng}})
	var list struct {
		Fragments []struct{ FragmentNumber string }
	}
	if code != 200 || json.Unmarshal(out, &list) != nil || len(list.Fragments) != persisted || persisted == 0 {
		t.Fatalf("listFragments: %d %s (persisted %d)", code, out, persisted)
	}
	code, clip := archivedCall(t, e.addr, "/getClip", map[string]any{"StreamName": "cam",
		"ClipFragmentSelector": map[string]any{"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": rng}})
	if code != 200 {
		t.Fatalf("getClip: %d %s", code, clip)
	}
	path := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, clip, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{path, hlsURL(t, e.addr)} {
		probe, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", target).CombinedOutput()
		if err != nil || !strings.Contains(string(probe), "h264") {
			t.Fatalf("ffprobe %s: %v\n%s", target, err, probe)
		}
	}
	// Unsigned archived-media calls are refused as the other APIs refuse them.
	resp, err := http.Post("http://"+e.addr+"/listFragments", "application/json", strings.NewReader(`{"StreamName":"cam"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf("unsigned listFragments: %s", resp.Status)
	}
}

func hlsURL(t *testing.T, addr string) string {
	code, out := archivedCall(t, addr, "/getHLSStreamingSessionURL", map[string]any{"StreamName": "cam", "PlaybackMode": "ON_DEMAND",
		"HLSFragmentSelector": map[string]any{"FragmentSelectorType": "SERVER_TIMESTAMP",
			"TimestampRange": map[string]any{"StartTimestamp": time.Now().Add(-10 * time.Minute).Unix(), "EndTimestamp": float64(time.Now().UnixMilli()) / 1000}}})
	var s struct{ HLSStreamingSessionURL string }
	if code != 200 || json.Unmarshal(out, &s) != nil || s.HLSStreamingSessionURL == "" {
		t.Fatalf("getHLSStreamingSessionURL: %d %s", code, out)
	}
	return s.HLSStreamingSessionURL
}
