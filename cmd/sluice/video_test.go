package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVideoCommands: create, put, describe, list, get and delete against a
// `sluice serve`; what get wrote is the put file's video, as ffprobe reads it.
func TestVideoCommands(t *testing.T) {
	s := startServe(t, t.TempDir())
	t.Setenv("SLUICE_VIDEO_ENDPOINT", "http://"+s.addr)
	must := func(args ...string) string {
		t.Helper()
		out, errs, code := runSluice(args...)
		if code != 0 {
			t.Fatalf("sluice %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	if out := must("video", "create", "cam", "--retention", "2"); !strings.Contains(out, ":stream/cam/") {
		t.Fatalf("create: %s", out)
	}
	if out := must("video", "put", "cam", filepath.Join("..", "..", "connectors", "video", "testdata", "testsrc.mkv")); !strings.Contains(out, "5 fragments persisted") {
		t.Fatalf("put: %s", out)
	}
	if out := must("video", "describe", "cam"); !strings.Contains(out, "cam ACTIVE") || !strings.Contains(out, "retention=2h") {
		t.Fatalf("describe: %s", out)
	}
	if out := must("video", "list"); !strings.Contains(out, "cam ACTIVE retention=2h") {
		t.Fatalf("list: %s", out)
	}
	got := filepath.Join(t.TempDir(), "got.mkv")
	if out := must("video", "get", "cam", "--out", got); !strings.Contains(out, "5 fragments written") {
		t.Fatalf("get: %s", out)
	}
	probe, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames", "-of", "default=nw=1", got).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	if !strings.Contains(string(probe), "codec_name=h264") || !strings.Contains(string(probe), "nb_read_frames=30") {
		t.Fatalf("ffprobe: %s", probe)
	}
	must("video", "delete", "cam")
	if _, errs, code := runSluice("video", "describe", "cam"); code == 0 || !strings.Contains(errs, "ResourceNotFoundException") {
		t.Fatalf("describe after delete: %d %s", code, errs)
	}
	if _, _, code := runSluice("video", "put", "cam"); code != 2 {
		t.Fatalf("put without a file: exit %d", code)
	}
	_ = os.Remove(got)
}
