package service

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireOrSkip skips, or fails when SLUICE_REQUIRE_INTEGRATION is set
// (CI, where .ci/setup.d installed the prerequisite).
func requireOrSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("SLUICE_REQUIRE_INTEGRATION") != "" {
		t.Fatalf(format+" (SLUICE_REQUIRE_INTEGRATION is set)", args...)
	}
	t.Skipf(format, args...)
}

// TestJavaScriptSDK drives the JavaScript SDK v3 Firehose client
// (installed by .ci/setup.d/50-firehose-js.sh) against the service.
func TestJavaScriptSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		requireOrSkip(t, "node not found")
	}
	dir := os.Getenv("SLUICE_FIREHOSE_JS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "sluice-ci", "npm-firehose")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-firehose")); err != nil {
		requireOrSkip(t, "@aws-sdk/client-firehose not installed in %s (run .ci/setup.d/50-firehose-js.sh)", dir)
	}
	e := startEnv(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script, _ := filepath.Abs("testdata/firehose-jssdk.mjs")
	cmd := exec.CommandContext(ctx, node, script, "http://"+e.addr)
	cmd.Env = append(os.Environ(), "SLUICE_FIREHOSE_JS_DIR="+filepath.Join(dir, "node_modules"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var out struct {
		Status    string
		Created   bool
		RecordID  string `json:"recordId"`
		Failed    int
		Responses int
		Names     []string
		NotFound  struct {
			Name, Message string
			Status        int
			IsClass       bool
		}
		Invalid struct{ Name, Message string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	if out.Status != "ACTIVE" || !out.Created || out.RecordID == "" || out.Failed != 0 || out.Responses != 2 || strings.Join(out.Names, ",") != "js" {
		t.Fatalf("basics: %+v", out)
	}
	if out.NotFound.Name != "ResourceNotFoundException" || !out.NotFound.IsClass || out.NotFound.Status != 400 ||
		out.NotFound.Message != "Firehose missing under account 000000000000 not found." {
		t.Fatalf("not found: %+v", out.NotFound)
	}
	if out.Invalid.Name != "ValidationException" || !strings.HasPrefix(out.Invalid.Message, "1 validation error detected: Value 'bad name' at 'deliveryStreamName'") {
		t.Fatalf("validation: %+v", out.Invalid)
	}
	got := waitLines(t, filepath.Join(e.dir, "buckets", "jsbucket"), 3)
	if strings.Join(got, ",") != "js-a,js-b,js-one" {
		t.Fatalf("delivered %v", got)
	}
}
