package kinesisapi

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// awsCLIs are the AWS CLIs on this machine: the one on PATH (v1 here, the
// Python awscli) and Debian's package (v2) in /usr/bin.
func awsCLIs() []string {
	var out []string
	if p, ok := awsCLI(); ok {
		out = append(out, p)
	}
	if _, err := os.Stat("/usr/bin/aws"); err == nil && (len(out) == 0 || out[0] != "/usr/bin/aws") {
		out = append(out, "/usr/bin/aws")
	}
	return out
}

// TestAWSCLIAuth runs `aws kinesis list-streams --endpoint-url ...` with
// the keys in the environment, as users do, against a server with
// credentials: accepted with the right secret, refused with the
// service's words otherwise. Every CLI found runs (v1 and v2).
func TestAWSCLIAuth(t *testing.T) {
	clis := awsCLIs()
	if len(clis) == 0 {
		requireOrSkip(t, "aws CLI not found")
	}
	srv, _ := authServerRealClock(t, alicePrinc)
	type result struct {
		out, errOut string
		err         error
	}
	run := func(bin, id, secret string) result {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "kinesis", "list-streams", "--endpoint-url", srv.URL, "--output", "json")
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+id, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_DEFAULT_REGION=us-east-1",
			"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return result{o.String(), e.String(), err}
	}
	// v2 puts "(reached max retries: 0)" between the operation and the
	// message; the error name and the message are the service's.
	cases := []struct {
		id, secret, code, msg string
	}{
		{alice.AccessKeyID, alice.SecretAccessKey, "", ""},
		{alice.AccessKeyID, "wrong", "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		{"AKIANOBODY", "x", "UnrecognizedClientException", "The security token included in the request is invalid."},
	}
	var wg sync.WaitGroup
	results := make([][]result, len(clis))
	for i, bin := range clis {
		results[i] = make([]result, len(cases))
		for j, tc := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i][j] = run(bin, tc.id, tc.secret)
			}()
		}
	}
	wg.Wait()
	for i, bin := range clis {
		for j, tc := range cases {
			r := results[i][j]
			if strings.Contains(r.errOut, "No module named") || strings.Contains(r.errOut, "ImportError") {
				requireOrSkip(t, "%s is broken here: %s", bin, r.errOut)
			}
			if tc.code == "" {
				if r.err != nil || !strings.Contains(r.out, `"StreamNames"`) {
					t.Errorf("%s with %s: %v\n%s%s", bin, tc.id, r.err, r.out, r.errOut)
				}
				continue
			}
			if r.err == nil || !strings.Contains(r.errOut, "An error occurred ("+tc.code+") when calling the ListStreams operation") || !strings.Contains(r.errOut, ": "+tc.msg+"\n") {
				t.Errorf("%s with %s/%s: %v\n%s\nwant %s: %s", bin, tc.id, tc.secret, r.err, r.errOut, tc.code, tc.msg)
			}
		}
	}
}

// TestJavaScriptSDKAuth runs the JavaScript SDK v3 over HTTP/1.1 against
// a server that verifies signatures: its key is accepted, a wrong secret
// refused with the service's error.
func TestJavaScriptSDKAuth(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		requireOrSkip(t, "node not found")
	}
	dir := jsSDKDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-kinesis")); err != nil {
		requireOrSkip(t, "@aws-sdk/client-kinesis not installed in %s (run .ci/setup.d/40-shardlog.sh)", dir)
	}
	e := start(t, false, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script, _ := filepath.Abs("testdata/jssdk-auth.mjs")
	cmd := exec.CommandContext(ctx, node, script, "http://"+e.addr)
	cmd.Env = append(os.Environ(), "SLUICE_JS_SDK_DIR="+filepath.Join(dir, "node_modules"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var out struct {
		Streams     []string
		WrongSecret struct {
			Name, Message string
			Status        int
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	if len(out.Streams) != 1 || out.Streams[0] != "js" {
		t.Errorf("streams %v", out.Streams)
	}
	w := out.WrongSecret
	if w.Name != "InvalidSignatureException" || w.Status != 400 || !strings.HasPrefix(w.Message, "The request signature we calculated does not match") {
		t.Errorf("wrong secret: %+v", w)
	}
}
