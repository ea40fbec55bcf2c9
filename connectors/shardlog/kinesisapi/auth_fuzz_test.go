package kinesisapi

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// The fuzz test over signed requests. Each seed is a request signed with
// the SDK's signer, as raw HTTP/1.1 bytes; the fuzzer edits bytes
// (replace, insert, delete) and the server's authentication judges the
// result. The property: a request accepted as a principal is the
// original request, signed by that principal — it may differ from the
// original only where nothing the server acts on changes:
//
//   - headers the client did not sign, other than the ones the server
//     routes by (X-Amz-Target, Content-Type: those must be covered by the
//     signature, as headers or, in a presigned URL, in the query);
//   - the case of header names, the order of header lines, and the
//     whitespace of header values that SigV4's canonical form folds
//     (leading, trailing, runs of spaces);
//   - the formatting of the signature itself where its parsed content is
//     unchanged (separators in the Authorization header);
//   - anything net/http parses to the same request.
//
// Everything else — method, path, query, body, the value of every signed
// header and of the routing headers, the key — must be equal; the test
// compares exactly those (semantics below).

// signedSeed is one original request.
type signedSeed struct {
	raw       []byte
	principal string
	signed    []string
	sem       requestSemantics
}

// requestSemantics is what the server acts on.
type requestSemantics struct {
	Method, Path string
	Query        url.Values
	Body         string
	Headers      map[string]string // signed and routing headers, canonical values
}

func foldValue(vs []string) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// semantics is what the server acts on in hr, judged against the headers
// the original signed (names, lower case).
func semantics(hr *http.Request, body []byte, signed []string) requestSemantics {
	sem := requestSemantics{Method: hr.Method, Path: hr.URL.EscapedPath(), Query: hr.URL.Query(), Body: string(body), Headers: map[string]string{}}
	for _, h := range append([]string{"x-amz-target", "content-type", "x-amz-security-token"}, signed...) {
		if h == "host" {
			sem.Headers[h] = hr.Host
		} else {
			sem.Headers[h] = foldValue(hr.Header.Values(h))
		}
	}
	return sem
}

func signedHeaderNames(hr *http.Request) []string {
	if a := hr.Header.Get("Authorization"); a != "" {
		_, rest, _ := strings.Cut(a, "SignedHeaders=")
		list, _, _ := strings.Cut(rest, ",")
		return strings.Split(list, ";")
	}
	return strings.Split(hr.URL.Query().Get("X-Amz-SignedHeaders"), ";")
}

func parseRaw(raw []byte) (*http.Request, []byte, error) {
	hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(io.LimitReader(hr.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	return hr, body, nil
}

// fuzzAuthServer is a server with alice and the temporary key, whose
// clock is authNow.
func fuzzAuthServer(t testing.TB) *Server {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: t.TempDir(), RetentionInterval: -1, Sync: shardlog.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	creds, err := NewCredentials(l.Options().AccountID, []Principal{alicePrinc, tempPrinc})
	if err != nil {
		t.Fatal(err)
	}
	return New(l, Options{Credentials: creds, Now: func() time.Time { return authNow }})
}

// signedSeeds are the originals: the header form (with and without a
// session token, JSON and CBOR) and a presigned URL.
func signedSeeds(t testing.TB, s *Server) []signedSeed {
	t.Helper()
	const base = "http://127.0.0.1:4567"
	type spec struct {
		op, body, ct string
		creds        aws.Credentials
		presigned    bool
	}
	var seeds []signedSeed
	for _, sp := range []spec{
		{"ListStreams", `{}`, ctJSON, alice, false},
		{"PutRecord", `{"StreamName":"s","PartitionKey":"k","Data":"aGVsbG8="}`, ctJSON, alice, false},
		{"CreateStream", `{"StreamName":"t","ShardCount":2}`, ctJSON, temporary, false},
		{"DescribeStreamSummary", "\xa1jStreamNameas", ctCBOR, alice, false},
		{"DeleteStream", `{"StreamName":"s"}`, ctJSON, alice, true},
	} {
		req := rawRequest(t, base, sp.op, sp.body)
		req.Header.Set("Content-Type", sp.ct)
		req.Header.Set("User-Agent", "fuzz-client/1.0")
		if sp.presigned {
			u := presign(t, req, sp.body, sp.creds, authNow, 300)
			req = presignedCopy(t, u, sp.body)
			req.Header.Set("User-Agent", "fuzz-client/1.0")
		} else {
			sign(t, req, sp.body, sp.creds, "us-east-1", "kinesis", authNow)
		}
		var buf bytes.Buffer
		if err := req.Write(&buf); err != nil {
			t.Fatal(err)
		}
		hr, body, err := parseRaw(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.authenticate(hr, body)
		if err != nil || p == nil || p.AccessKeyID != sp.creds.AccessKeyID {
			t.Fatalf("seed %s is not accepted: %v", sp.op, err)
		}
		signed := signedHeaderNames(hr)
		seeds = append(seeds, signedSeed{raw: buf.Bytes(), principal: p.AccessKeyID, signed: signed, sem: semantics(hr, body, signed)})
	}
	return seeds
}

// applyEdits edits raw: each 4 bytes of edits are a position (2 bytes), a
// kind (replace, insert, delete) and a byte.
func applyEdits(raw, edits []byte) []byte {
	out := append([]byte(nil), raw...)
	for len(edits) >= 4 && len(out) > 0 {
		pos := (int(edits[0])<<8 | int(edits[1])) % len(out)
		switch edits[2] % 3 {
		case 0:
			out[pos] = edits[3]
		case 1:
			out = append(out[:pos], append([]byte{edits[3]}, out[pos:]...)...)
		case 2:
			out = append(out[:pos], out[pos+1:]...)
		}
		edits = edits[4:]
	}
	return out
}

// judge authenticates mutated and fails t if it is accepted while
// differing from seed in what the server acts on. It reports whether the
// request was accepted.
func judge(t *testing.T, s *Server, seed signedSeed, mutated []byte) bool {
	t.Helper()
	hr, body, err := parseRaw(mutated)
	if err != nil {
		return false // net/http refuses it before the server sees it
	}
	p, err := s.authenticate(hr, body)
	if err != nil || p == nil {
		return false
	}
	got := semantics(hr, body, seed.signed)
	if p.AccessKeyID != seed.principal || !reflect.DeepEqual(got, seed.sem) {
		t.Fatalf("a changed request was accepted as %s:\n%q\noriginal:\n%q\ngot  %+v\nwant %+v", p.AccessKeyID, mutated, seed.raw, got, seed.sem)
	}
	return true
}

// FuzzSignedRequest: no edited request is accepted as the original's
// principal unless the edit is semantically irrelevant (see above). Its
// seed corpus runs as a normal test.
func FuzzSignedRequest(f *testing.F) {
	s := fuzzAuthServer(f)
	seeds := signedSeeds(f, s)
	for i := range seeds {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), []byte{0, 10, 0, 'X'})
		f.Add(uint8(i), []byte{0, 200, 2, 0})
		f.Add(uint8(i), []byte{1, 44, 1, ' ', 0, 3, 0, 'x'})
	}
	f.Fuzz(func(t *testing.T, which uint8, edits []byte) {
		seed := seeds[int(which)%len(seeds)]
		judge(t, s, seed, applyEdits(seed.raw, edits))
	})
}

// TestSignedRequestMutations runs every single-byte edit of every seed
// — each byte replaced by a neighbour value, by its other case, by a
// space, and deleted — through the same judge. Some edits are
// irrelevant and must be accepted (the User-Agent, which no client
// signs), which shows the judge can tell the two apart.
func TestSignedRequestMutations(t *testing.T) {
	s := fuzzAuthServer(t)
	seeds := signedSeeds(t, s)
	accepted, tried := 0, 0
	for _, seed := range seeds {
		for pos := range seed.raw {
			b := seed.raw[pos]
			for _, e := range [][]byte{
				{byte(pos >> 8), byte(pos), 0, b ^ 0x01},
				{byte(pos >> 8), byte(pos), 0, b ^ 0x20},
				{byte(pos >> 8), byte(pos), 0, ' '},
				{byte(pos >> 8), byte(pos), 2, 0},
			} {
				m := applyEdits(seed.raw, e)
				if bytes.Equal(m, seed.raw) {
					continue
				}
				tried++
				if judge(t, s, seed, m) {
					accepted++
				}
			}
		}
	}
	// Whole-line and whole-parameter edits: every header line given
	// twice (once as is, once with its value changed), and every query
	// parameter given a second value.
	for _, seed := range seeds {
		head, body, _ := bytes.Cut(seed.raw, []byte("\r\n\r\n"))
		lines := bytes.Split(head, []byte("\r\n"))
		for i := 1; i < len(lines); i++ {
			for _, extra := range [][]byte{lines[i], append(append([]byte(nil), lines[i]...), 'x')} {
				ls := append(append(append([][]byte(nil), lines[:i+1]...), extra), lines[i+1:]...)
				m := append(append(bytes.Join(ls, []byte("\r\n")), "\r\n\r\n"...), body...)
				tried++
				if judge(t, s, seed, m) {
					accepted++
				}
			}
		}
		reqLine, rest, _ := bytes.Cut(seed.raw, []byte(" HTTP/1.1"))
		if _, q, ok := bytes.Cut(reqLine, []byte("?")); ok {
			for _, kv := range bytes.Split(q, []byte("&")) {
				k, _, _ := bytes.Cut(kv, []byte("="))
				m := append(append(append(append([]byte(nil), reqLine...), '&'), append(k, "=x"...)...), append([]byte(" HTTP/1.1"), rest...)...)
				tried++
				if judge(t, s, seed, m) {
					accepted++
				}
			}
		}
	}
	if accepted == 0 {
		t.Fatalf("none of %d edits was accepted: the User-Agent edits should have been", tried)
	}
	t.Logf("%d edits, %d accepted as irrelevant", tried, accepted)
}
