package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
)

// serveInProcess runs `sluice log serve args...` until the test ends and
// returns the address it serves on (from its first line of output).
func serveInProcess(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"log", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...), pw, io.Discard)
		pw.Close()
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("log serve: %v (exit %d)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "://")
	if !ok {
		t.Fatalf("log serve said %q", line)
	}
	addr, _, _ = strings.Cut(addr, " ")
	return addr
}

// TestLogServeCredentialsAndTLS serves with --credentials and a given
// certificate: the client commands, signing with the environment's keys,
// are accepted with the right secret and refused with the service's
// error otherwise.
func TestLogServeCredentialsAndTLS(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials.json")
	if err := os.WriteFile(creds, []byte(`{"Credentials": [
		{"AccessKeyId": "AKIAOPS", "SecretAccessKey": "ops-secret"},
		{"AccessKeyId": "AKIAREAD", "SecretAccessKey": "read-secret", "Arn": "arn:aws:iam::000000000000:user/reader",
		 "Policy": {"Statement": [{"Effect": "Allow", "Action": ["kinesis:Describe*", "kinesis:List*"], "Resource": "*"}]}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writeCert(t, dir)
	addr := serveInProcess(t, "--credentials", creds, "--tls-cert", certFile, "--tls-key", keyFile)
	ep := "--endpoint=https://" + addr
	as := func(id, secret string, args ...string) (string, string, int) {
		t.Setenv("AWS_ACCESS_KEY_ID", id)
		t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		return runSluice(append(args, ep, "--insecure")...)
	}
	if _, errs, code := as("AKIAOPS", "ops-secret", "log", "create", "s", "--shards", "1"); code != 0 {
		t.Fatalf("create with the right key: exit %d: %s", code, errs)
	}
	if out, errs, code := as("AKIAREAD", "read-secret", "log", "describe", "s"); code != 0 || !strings.Contains(out, "open shards 1") {
		t.Fatalf("describe as reader: exit %d: %s %s", code, out, errs)
	}
	for _, tc := range []struct {
		id, secret, want string
		args             []string
	}{
		{"AKIAOPS", "wrong", "InvalidSignatureException: The request signature we calculated does not match", []string{"log", "describe", "s"}},
		{"AKIANOBODY", "x", "UnrecognizedClientException: The security token included in the request is invalid.", []string{"log", "describe", "s"}},
		{"AKIAREAD", "read-secret", "AccessDeniedException: User: arn:aws:iam::000000000000:user/reader is not authorized to perform: kinesis:PutRecords on resource: arn:aws:kinesis:us-east-1:000000000000:stream/s because no identity-based policy allows the kinesis:PutRecords action",
			[]string{"log", "put", "s", "x"}},
	} {
		if _, errs, code := as(tc.id, tc.secret, tc.args...); code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s %v: exit %d: %s\nwant %s", tc.id, tc.args, code, errs, tc.want)
		}
	}
}

// writeCert writes a certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (string, string) {
	t.Helper()
	conf, der, err := kinesisapi.SelfSignedTLS("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(conf.Certificates[0].PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestLogServeAuthFlags: the flags that do not go together, and the
// default, which serves without credentials only on a loopback address.
func TestLogServeAuthFlags(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--credentials", "c.json", "--anonymous"}, "--credentials and --anonymous exclude each other"},
		{[]string{"--addr", "0.0.0.0:0"}, "--addr 0.0.0.0:0 is not a loopback address: pass --credentials FILE (or --anonymous to serve without authentication)"},
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-self-signed"}, "exclude each other"},
	} {
		_, errs, code := runSluice(append([]string{"log", "serve", "--data", data}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d: %s\nwant %s", tc.args, code, errs, tc.want)
		}
	}
	if _, errs, code := runSluice("log", "serve", "--data", data, "--credentials", filepath.Join(data, "missing.json")); code != 1 || !strings.Contains(errs, "read credentials") {
		t.Errorf("missing credentials file: exit %d: %s", code, errs)
	}
	// --anonymous on any address, the default on loopback: both serve.
	addr := serveInProcess(t, "--anonymous")
	if _, errs, code := runSluice("log", "create", "a", "--shards", "1", "--endpoint=http://"+addr); code != 0 {
		t.Errorf("anonymous server: exit %d: %s", code, errs)
	}
	addr = serveInProcess(t)
	if _, errs, code := runSluice("log", "create", "a", "--shards", "1", "--endpoint=http://"+addr); code != 0 {
		t.Errorf("development server: exit %d: %s", code, errs)
	}
}
