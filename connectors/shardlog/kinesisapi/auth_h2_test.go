package kinesisapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// jsH2Request is a ListStreams request exactly as the JavaScript SDK v3
// (3.1143.0, its default HTTP/2 handler) sent it to 127.0.0.1:37291 with
// the key AKID/secret at 2026-12-07T23:58:04Z, captured from Go's HTTP/2
// server: it signs the :authority pseudo-header (which that server hands
// over as r.Host) and no host header.
var jsH2Request = struct {
	authority, body string
	headers         [][2]string
}{
	authority: "127.0.0.1:37291",
	body:      "{}",
	headers: [][2]string{
		{"X-Amz-Target", "Kinesis_20131202.ListStreams"},
		{"Content-Length", "2"},
		{"X-Amz-User-Agent", "aws-sdk-js/3.1142.0"},
		{"User-Agent", "aws-sdk-js/3.1142.0 ua/2.1 os/linux#6.18.44-fc-v1300 lang/js md/nodejs#20.20.2 api/kinesis#3.1142.0 m/N,E,P,e"},
		{"Amz-Sdk-Invocation-Id", "df9515b9-77c2-4833-90b2-9290596a2d48"},
		{"Amz-Sdk-Request", "attempt=1; max=1"},
		{"X-Amz-Content-Sha256", "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
		{"Content-Type", "application/x-amz-json-1.1"},
		{"X-Amz-Date", "20261207T235804Z"},
		{"Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/kinesis/aws4_request, SignedHeaders=:authority;amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;x-amz-content-sha256;x-amz-date;x-amz-target;x-amz-user-agent, Signature=016bba4d27f2dfbfed16dfcb79d65865749b65617292e618478199af4b15b0bf"},
	},
}

// jsH2Handler is a server that knows the key AKID/secret, its clock at
// the time jsH2Request was signed.
func jsH2Handler(t testing.TB) *Server {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: t.TempDir(), RetentionInterval: -1, Sync: shardlog.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	creds, err := NewCredentials(l.Options().AccountID, []Principal{{AccessKeyID: "AKID", SecretAccessKey: "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 23, 58, 4, 0, time.UTC)
	return New(l, Options{Credentials: creds, Now: func() time.Time { return at }})
}

// BenchmarkAuthenticateHTTP2 is the cost of verifying the JavaScript
// SDK's HTTP/2 ListStreams (signed :authority, checked with smithy-go's
// signer), beside BenchmarkAuthenticate/ListStreams.
func BenchmarkAuthenticateHTTP2(b *testing.B) {
	s := jsH2Handler(b)
	hr := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/"}, Host: jsH2Request.authority, Header: http.Header{}, ProtoMajor: 2}
	for _, h := range jsH2Request.headers {
		hr.Header.Set(h[0], h[1])
	}
	body := []byte(jsH2Request.body)
	b.ReportAllocs()
	for b.Loop() {
		if p, err := s.authenticate(hr, body); err != nil || p == nil {
			b.Fatal(err)
		}
	}
}

// TestAuthJavaScriptHTTP2 replays the captured request over cleartext
// HTTP/2 to a server that verifies signatures: as sent it is accepted;
// sent to another authority, with another body or header, or over HTTP/1.1
// (where there is no :authority) it is refused as the service refuses a
// bad signature.
func TestAuthJavaScriptHTTP2(t *testing.T) {
	srv := httptest.NewUnstartedServer(jsH2Handler(t))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)

	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	h1 := &http.Transport{}
	t.Cleanup(func() { h2.CloseIdleConnections(); h1.CloseIdleConnections() })

	type mod func(req *http.Request)
	cases := []struct {
		name  string
		tr    *http.Transport
		body  string
		mod   mod
		code  string
		proto int
	}{
		{name: "as sent", tr: h2, proto: 2},
		{name: "another authority", tr: h2, proto: 2, mod: func(r *http.Request) { r.Host = "127.0.0.1:37292" }, code: "InvalidSignatureException"},
		{name: "another body", tr: h2, proto: 2, body: "{ }", code: "InvalidSignatureException"},
		{name: "another signed header", tr: h2, proto: 2, mod: func(r *http.Request) { r.Header.Set("Amz-Sdk-Request", "attempt=2; max=3") }, code: "InvalidSignatureException"},
		{name: "a signed header left out", tr: h2, proto: 2, mod: func(r *http.Request) { r.Header.Del("Amz-Sdk-Invocation-Id") }, code: "InvalidSignatureException"},
		{name: "another signature", tr: h2, proto: 2, mod: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-64]+strings.Repeat("0", 64))
		}, code: "InvalidSignatureException"},
		{name: "over HTTP/1.1", tr: h1, proto: 1, code: "InvalidSignatureException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := jsH2Request.body
			if tc.body != "" {
				body = tc.body
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Host = jsH2Request.authority
			for _, h := range jsH2Request.headers {
				req.Header.Set(h[0], h[1])
			}
			if tc.mod != nil {
				tc.mod(req)
			}
			resp, err := tc.tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.ProtoMajor != tc.proto {
				t.Fatalf("answered over HTTP/%d, want %d", resp.ProtoMajor, tc.proto)
			}
			if tc.code == "" {
				if resp.StatusCode != 200 || !strings.Contains(string(b), `"StreamNames":[]`) {
					t.Fatalf("%d %s", resp.StatusCode, b)
				}
				return
			}
			if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != tc.code || !strings.Contains(string(b), errBadSignature.msg) {
				t.Fatalf("%d %s %s, want %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b, tc.code)
			}
		})
	}
}
