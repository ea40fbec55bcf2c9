package kinesisapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/fxamacker/cbor/v2"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// authNow is the server's clock in the raw-request tests: requests are
// signed relative to it, so every message with a time in it is fixed.
var authNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// authServer runs a server with the principals ps and the clock authNow.
func authServer(t *testing.T, ps ...Principal) (*httptest.Server, *shardlog.Log) {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: t.TempDir(), RetentionInterval: -1, Sync: shardlog.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := NewCredentials(l.Options().AccountID, ps)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(l, Options{Credentials: creds, Now: func() time.Time { return authNow }}))
	t.Cleanup(func() { srv.Close(); l.Close() })
	return srv, l
}

// rawRequest is a Kinesis request before signing.
func rawRequest(t testing.TB, url, op, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctJSON)
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	return req
}

func bodyHash(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

// sign signs req (whose body is body) with the SDK's signer as a client
// would.
func sign(t testing.TB, req *http.Request, body string, creds aws.Credentials, region, service string, at time.Time) {
	t.Helper()
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, bodyHash(body), service, region, at); err != nil {
		t.Fatal(err)
	}
}

// presign returns req's presigned URL (X-Amz-Expires as given, none when
// 0) with the SDK's signer.
func presign(t testing.TB, req *http.Request, body string, creds aws.Credentials, at time.Time, expires int) string {
	t.Helper()
	if expires > 0 {
		q := req.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(expires))
		req.URL.RawQuery = q.Encode()
	}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, bodyHash(body), "kinesis", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// send sends req and returns the status, the error name and its message.
func send(t testing.TB, req *http.Request) (int, string, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		return 200, "", ""
	}
	var e struct {
		Type    string `json:"__type" cbor:"__type"`
		Message string `json:"message" cbor:"message"`
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), ctCBOR) {
		if err := cbor.Unmarshal(b, &e); err != nil {
			t.Fatalf("CBOR error body %x: %v", b, err)
		}
	} else if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	if resp.Header.Get("X-Amzn-ErrorType") != e.Type {
		t.Errorf("X-Amzn-ErrorType %q, body __type %q", resp.Header.Get("X-Amzn-ErrorType"), e.Type)
	}
	return resp.StatusCode, e.Type, e.Message
}

var (
	alice      = aws.Credentials{AccessKeyID: "AKIAALICE", SecretAccessKey: "alice-secret"}
	temporary  = aws.Credentials{AccessKeyID: "ASIATEMP", SecretAccessKey: "temp-secret", SessionToken: "the-token"}
	alicePrinc = Principal{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey}
	tempPrinc  = Principal{AccessKeyID: temporary.AccessKeyID, SecretAccessKey: temporary.SecretAccessKey, SessionToken: temporary.SessionToken}
)

// TestAuthErrors sends requests signed (or not) in every way the service
// refuses, and the ones it accepts, and checks status, error name and
// message word for word.
func TestAuthErrors(t *testing.T) {
	srv, _ := authServer(t, alicePrinc, tempPrinc)
	const listBody = `{}`
	const (
		badSig     = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
		unknownKey = "The security token included in the request is invalid."
	)
	signed := func(creds aws.Credentials, region, service string, at time.Time) func() *http.Request {
		return func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			sign(t, req, listBody, creds, region, service, at)
			return req
		}
	}
	withAuth := func(authz string) func() *http.Request {
		return func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			req.Header.Set("X-Amz-Date", authNow.Format(amzDateForm))
			req.Header.Set("Authorization", authz)
			return req
		}
	}
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
		msg    string
	}{
		{"signed", signed(alice, "us-east-1", "kinesis", authNow), 200, "", ""},
		{"signed 4 minutes ago", signed(alice, "us-east-1", "kinesis", authNow.Add(-4*time.Minute)), 200, "", ""},
		{"signed 4 minutes ahead", signed(alice, "us-east-1", "kinesis", authNow.Add(4*time.Minute)), 200, "", ""},
		{"wrong secret", signed(aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: "guess"}, "us-east-1", "kinesis", authNow), 400, "InvalidSignatureException", badSig},
		{"unknown key", signed(aws.Credentials{AccessKeyID: "AKIANOBODY", SecretAccessKey: "x"}, "us-east-1", "kinesis", authNow), 400, "UnrecognizedClientException", unknownKey},
		{"clock behind", signed(alice, "us-east-1", "kinesis", authNow.Add(-6*time.Minute)), 400, "InvalidSignatureException",
			"Signature expired: 20260304T050007Z is now earlier than 20260304T050107Z (20260304T050607Z - 5 min.)"},
		{"clock ahead", signed(alice, "us-east-1", "kinesis", authNow.Add(6*time.Minute)), 400, "InvalidSignatureException",
			"Signature not yet current: 20260304T051207Z is still later than 20260304T051107Z (20260304T050607Z + 5 min.)"},
		{"other region", signed(alice, "eu-west-1", "kinesis", authNow), 400, "InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-west-1'. "},
		{"other service", signed(alice, "us-east-1", "firehose", authNow), 400, "InvalidSignatureException", "Credential should be scoped to correct service: 'kinesis'. "},
		{"tampered body", func() *http.Request {
			req := rawRequest(t, srv.URL, "CreateStream", `{"StreamName":"a","ShardCount":1}`)
			sign(t, req, `{"StreamName":"a","ShardCount":1}`, alice, "us-east-1", "kinesis", authNow)
			req.Body = io.NopCloser(strings.NewReader(`{"StreamName":"b","ShardCount":1}`))
			return req
		}, 400, "InvalidSignatureException", badSig},
		{"tampered target", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			sign(t, req, listBody, alice, "us-east-1", "kinesis", authNow)
			req.Header.Set("X-Amz-Target", targetPrefix+"DescribeLimits")
			return req
		}, 400, "InvalidSignatureException", badSig},
		{"unsigned", func() *http.Request { return rawRequest(t, srv.URL, "ListStreams", listBody) }, 400, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"incomplete", withAuth("AWS4-HMAC-SHA256 Credential=AKIAALICE/20260304/us-east-1/kinesis/aws4_request"), 400, "IncompleteSignatureException",
			"Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKIAALICE/20260304/us-east-1/kinesis/aws4_request"},
		{"bearer token", withAuth("Bearer"), 400, "IncompleteSignatureException",
			"Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer"},
		{"missing equal sign", withAuth("AWS4-HMAC-SHA256 Credential=AKIAALICE /20260304/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00"), 400, "IncompleteSignatureException",
			"'/20260304/us-east-1/kinesis/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential=AKIAALICE /20260304/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00'."},
		{"no date", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAALICE/20260304/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00")
			return req
		}, 400, "IncompleteSignatureException",
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=AKIAALICE/20260304/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00"},
		{"session token", signed(temporary, "us-east-1", "kinesis", authNow), 200, "", ""},
		{"session token missing", signed(aws.Credentials{AccessKeyID: temporary.AccessKeyID, SecretAccessKey: temporary.SecretAccessKey}, "us-east-1", "kinesis", authNow), 400, "UnrecognizedClientException", unknownKey},
		{"session token wrong", signed(aws.Credentials{AccessKeyID: temporary.AccessKeyID, SecretAccessKey: temporary.SecretAccessKey, SessionToken: "stolen"}, "us-east-1", "kinesis", authNow), 400, "UnrecognizedClientException", unknownKey},
		{"token on a long-term key", signed(aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey, SessionToken: "x"}, "us-east-1", "kinesis", authNow), 400, "UnrecognizedClientException", unknownKey},
		{"CBOR error", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", "\xa0")
			req.Header.Set("Content-Type", ctCBOR)
			sign(t, req, "\xa0", aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: "guess"}, "us-east-1", "kinesis", authNow)
			return req
		}, 400, "InvalidSignatureException", badSig},
		// Presigned URLs (the query-string form).
		{"presigned", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			return presignedCopy(t, presign(t, req, listBody, alice, authNow.Add(-time.Minute), 300), listBody)
		}, 200, "", ""},
		{"presigned, other target", func() *http.Request {
			// The signer hoists X-Amz-Target into the query; the header
			// the server routes by must say the same.
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			out := presignedCopy(t, presign(t, req, listBody, alice, authNow, 300), listBody)
			out.Header.Set("X-Amz-Target", targetPrefix+"DescribeLimits")
			return out
		}, 400, "InvalidSignatureException", badSig},
		{"unsigned target", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			req.Header.Del("X-Amz-Target")
			sign(t, req, listBody, alice, "us-east-1", "kinesis", authNow)
			req.Header.Set("X-Amz-Target", targetPrefix+"ListStreams")
			return req
		}, 400, "InvalidSignatureException", badSig},
		{"presigned, long expiry", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			return presignedCopy(t, presign(t, req, listBody, alice, authNow.Add(-50*time.Minute), 3600), listBody)
		}, 200, "", ""},
		{"presigned, expired", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			return presignedCopy(t, presign(t, req, listBody, alice, authNow.Add(-10*time.Minute), 300), listBody)
		}, 400, "InvalidSignatureException", "Signature expired: 20260304T045607Z is now earlier than 20260304T050107Z (20260304T050607Z - 300 sec.)"},
		{"presigned, no expiry: the skew window", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			return presignedCopy(t, presign(t, req, listBody, alice, authNow.Add(-6*time.Minute), 0), listBody)
		}, 400, "InvalidSignatureException", "Signature expired: 20260304T050007Z is now earlier than 20260304T050107Z (20260304T050607Z - 5 min.)"},
		{"presigned, wrong secret", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			return presignedCopy(t, presign(t, req, listBody, aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: "guess"}, authNow, 300), listBody)
		}, 400, "InvalidSignatureException", badSig},
		{"presigned, tampered body", func() *http.Request {
			req := rawRequest(t, srv.URL, "CreateStream", `{"StreamName":"a","ShardCount":1}`)
			return presignedCopy(t, presign(t, req, `{"StreamName":"a","ShardCount":1}`, alice, authNow, 300), `{"StreamName":"b","ShardCount":1}`)
		}, 400, "InvalidSignatureException", badSig},
		{"presigned, longer expiry than signed", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			u := presign(t, req, listBody, alice, authNow.Add(-10*time.Minute), 300)
			return presignedCopy(t, strings.Replace(u, "X-Amz-Expires=300", "X-Amz-Expires=900", 1), listBody)
		}, 400, "InvalidSignatureException", badSig},
		{"presigned, incomplete", func() *http.Request {
			req := rawRequest(t, srv.URL, "ListStreams", listBody)
			u := presign(t, req, listBody, alice, authNow, 300)
			return presignedCopy(t, strings.Replace(u, "X-Amz-SignedHeaders=", "X-Amz-Signed=", 1), listBody)
		}, 400, "IncompleteSignatureException", "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code, msg := send(t, tc.req())
			if status != tc.status || code != tc.code || msg != tc.msg {
				t.Errorf("got %d %s %q\nwant %d %s %q", status, code, msg, tc.status, tc.code, tc.msg)
			}
		})
	}
}

// presignedCopy is a request to the presigned URL u with body, as a
// client sends it: the content type (signed as a header) and the target,
// which the signer hoisted into the query, as a header too.
func presignedCopy(t testing.TB, u, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctJSON)
	req.Header.Set("X-Amz-Target", req.URL.Query().Get("X-Amz-Target"))
	return req
}

// TestAuthSignedUserAgent: a client that signs headers the Go SDK's
// signer never signs itself (the Java SDK v1 signs User-Agent) is
// verified over those headers too.
func TestAuthSignedUserAgent(t *testing.T) {
	s := fuzzAuthServer(t)
	req := rawRequest(t, "http://127.0.0.1:4567", "ListStreams", "{}")
	req.Header["user-agent"] = []string{"aws-sdk-java/1.12.700 Linux/6.1 OpenJDK_64-Bit_Server_VM/17"}
	sign(t, req, "{}", alice, "us-east-1", "kinesis", authNow)
	if !strings.Contains(req.Header.Get("Authorization"), "SignedHeaders=content-length;content-type;host;user-agent;x-amz-date;x-amz-target,") {
		t.Fatalf("the client did not sign User-Agent: %s", req.Header.Get("Authorization"))
	}
	received := func(ua string) *http.Request {
		h := http.Header{}
		for k, vs := range req.Header {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		h.Set("User-Agent", ua)
		return &http.Request{Method: req.Method, URL: req.URL, Host: req.URL.Host, Header: h}
	}
	if p, err := s.authenticate(received(req.Header["user-agent"][0]), []byte("{}")); err != nil || p == nil {
		t.Errorf("signed User-Agent: %v", err)
	}
	if _, err := s.authenticate(received("aws-sdk-java/9"), []byte("{}")); err != errBadSignature {
		t.Errorf("changed signed User-Agent: %v, want %v", err, errBadSignature)
	}
}

// TestAuthSDKKeys runs the AWS SDK for Go v2 with the server's keys, a
// wrong secret and an unknown key.
func TestAuthSDKKeys(t *testing.T) {
	srv, _ := authServerRealClock(t, alicePrinc, tempPrinc)
	client := func(c aws.Credentials) *kinesis.Client {
		return kinesis.New(kinesis.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
			Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		})
	}
	ctx := context.Background()
	for _, c := range []aws.Credentials{alice, temporary} {
		if _, err := client(c).CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s-" + strings.ToLower(c.AccessKeyID)), ShardCount: aws.Int32(1)}); err != nil {
			t.Fatalf("%s: %v", c.AccessKeyID, err)
		}
	}
	for _, tc := range []struct {
		c    aws.Credentials
		code string
	}{
		{aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: "guess"}, "InvalidSignatureException"},
		{aws.Credentials{AccessKeyID: "AKIANOBODY", SecretAccessKey: "x"}, "UnrecognizedClientException"},
	} {
		_, err := client(tc.c).ListStreams(ctx, &kinesis.ListStreamsInput{})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != tc.code {
			t.Errorf("%s: %v, want %s", tc.c.AccessKeyID, err, tc.code)
		}
	}
}

// authServerRealClock is authServer on the real clock, for SDK clients
// that sign with it.
func authServerRealClock(t *testing.T, ps ...Principal) (*httptest.Server, *shardlog.Log) {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: t.TempDir(), RetentionInterval: -1, Sync: shardlog.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := NewCredentials(l.Options().AccountID, ps)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(l, Options{Credentials: creds}))
	t.Cleanup(func() { srv.Close(); l.Close() })
	return srv, l
}

// TestAuthPolicy runs the SDK as principals with policies: allowed
// operations pass, others get AccessDeniedException worded as IAM words
// it, an explicit deny winning over an allow.
func TestAuthPolicy(t *testing.T) {
	readerPolicy := &Policy{Version: "2012-10-17", Statement: []Statement{
		{Effect: "Allow", Action: stringSet{"kinesis:Describe*", "kinesis:List*", "kinesis:GetShardIterator", "kinesis:getrecords"},
			Resource: stringSet{"arn:aws:kinesis:us-east-1:000000000000:stream/app-*"}},
		{Effect: "Allow", Action: stringSet{"kinesis:PutRecord*"}, Resource: stringSet{"arn:aws:kinesis:*:*:stream/app-?"}},
		{Sid: "NoSecrets", Effect: "Deny", Action: stringSet{"kinesis:*"}, Resource: stringSet{"arn:aws:kinesis:*:*:stream/app-secret*"}},
		{Effect: "Allow", Action: stringSet{"kinesis:SubscribeToShard"}, Resource: stringSet{"arn:aws:kinesis:us-east-1:000000000000:stream/app-1/consumer/allowed:*"}},
		{Effect: "Allow", Action: stringSet{"kinesis:RegisterStreamConsumer"}, Resource: stringSet{
			"arn:aws:kinesis:us-east-1:000000000000:stream/app-1", "arn:aws:kinesis:us-east-1:000000000000:stream/app-1/consumer/allowed"}},
	}}
	reader := Principal{AccessKeyID: "AKIAREADER", SecretAccessKey: "reader-secret", Policy: readerPolicy}
	srv, l := authServerRealClock(t, alicePrinc, reader)
	client := func(key, secret string) *kinesis.Client {
		return kinesis.New(kinesis.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
		})
	}
	admin, rd := client(alice.AccessKeyID, alice.SecretAccessKey), client(reader.AccessKeyID, reader.SecretAccessKey)
	ctx := context.Background()
	for _, name := range []string{"app-1", "app-secret", "other", "app-12"} {
		if _, err := admin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
	}
	const user = "arn:aws:iam::000000000000:user/AKIAREADER"
	stream := func(n string) string { return "arn:aws:kinesis:us-east-1:000000000000:stream/" + n }
	denied := func(action, resource string) string {
		return "User: " + user + " is not authorized to perform: kinesis:" + action + " on resource: " + resource + " because no identity-based policy allows the kinesis:" + action + " action"
	}
	explicit := func(action, resource string) string {
		return "User: " + user + " is not authorized to perform: kinesis:" + action + " on resource: " + resource + " with an explicit deny in an identity-based policy"
	}
	check := func(what string, err error, want string) {
		t.Helper()
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", what, err)
			}
			return
		}
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" || api.ErrorMessage() != want {
			t.Errorf("%s: got %v\nwant AccessDeniedException: %s", what, err, want)
		}
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() != 400 {
			t.Errorf("%s: status %d, want 400", what, re.HTTPStatusCode())
		}
	}
	_, err := rd.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("app-1")})
	check("describe app-1", err, "")
	_, err = rd.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(stream("app-12"))})
	check("describe app-12 by ARN", err, "")
	_, err = rd.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("other")})
	check("describe other", err, denied("DescribeStreamSummary", stream("other")))
	_, err = rd.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("app-secret")})
	check("describe app-secret", err, explicit("DescribeStreamSummary", stream("app-secret")))
	_, err = rd.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("app-1"), PartitionKey: aws.String("k"), Data: []byte("x")})
	check("put app-1", err, "")
	_, err = rd.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("app-12"), PartitionKey: aws.String("k"), Data: []byte("x")})
	check("put app-12 (? is one character)", err, denied("PutRecord", stream("app-12")))
	_, err = rd.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("app-1"), Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("y")}}})
	check("put records app-1", err, "")
	_, err = rd.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("app-1")})
	check("delete app-1", err, denied("DeleteStream", stream("app-1")))
	_, err = rd.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("app-new"), ShardCount: aws.Int32(1)})
	check("create app-new", err, denied("CreateStream", stream("app-new")))
	// ListStreams has no resource-level permission: only Resource "*"
	// allows it, and the refusal names no resource.
	_, err = rd.ListStreams(ctx, &kinesis.ListStreamsInput{})
	check("list streams", err, "User: "+user+" is not authorized to perform: kinesis:ListStreams because no identity-based policy allows the kinesis:ListStreams action")
	_, err = rd.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("app-1")})
	check("list shards app-1", err, "")

	// Reading: the iterator's stream is the resource of GetRecords.
	it, err := admin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("other"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rd.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	check("get records of other", err, denied("GetRecords", stream("other")))
	it, err = rd.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("app-1"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	check("iterator of app-1", err, "")
	if err == nil {
		got, err := rd.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		check("get records of app-1", err, "")
		if err == nil && len(got.Records) != 2 {
			t.Errorf("read %d records of app-1, want 2", len(got.Records))
		}
	}

	// Consumers: the consumer's ARN is the resource of SubscribeToShard.
	_, err = rd.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(stream("app-1")), ConsumerName: aws.String("other")})
	check("register other", err, denied("RegisterStreamConsumer", stream("app-1")+"/consumer/other"))
	reg, err := rd.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(stream("app-1")), ConsumerName: aws.String("allowed")})
	check("register allowed", err, "")
	if err != nil {
		return
	}
	regOther, err := admin.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(stream("app-1")), ConsumerName: aws.String("unlisted")})
	if err != nil {
		t.Fatal(err)
	}
	requireConsumersActive(t, l, stream("app-1"))
	_, err = rd.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: regOther.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
	check("subscribe unlisted", err, denied("SubscribeToShard", *regOther.Consumer.ConsumerARN))
	sub, err := rd.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
	check("subscribe allowed", err, "")
	if err == nil {
		ev := <-sub.GetStream().Events()
		if e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent); !ok || len(e.Value.Records) != 2 {
			t.Errorf("first event %#v, want the 2 records of app-1", ev)
		}
		sub.GetStream().Close()
	}
	_, err = rd.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: aws.String(stream("app-1")), ConsumerName: aws.String("unlisted")})
	check("describe unlisted by name", err, "")
	_, err = rd.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{StreamARN: aws.String(stream("app-1")), ConsumerName: aws.String("unlisted")})
	check("deregister unlisted by name", err, denied("DeregisterStreamConsumer", *regOther.Consumer.ConsumerARN))
}

// requireConsumersActive checks that the stream's consumers are ACTIVE
// (the log makes them so at once without a status delay).
func requireConsumersActive(t *testing.T, l *shardlog.Log, streamARN string) {
	t.Helper()
	cs, err := l.ListStreamConsumers(streamARN)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Status != "ACTIVE" {
			t.Fatalf("consumer %s is %s", c.Name, c.Status)
		}
	}
}

// TestPermissionsTable checks that every operation has its resources in
// the permissions table.
func TestPermissionsTable(t *testing.T) {
	for name := range operations {
		if permissions[name] == nil {
			t.Errorf("operation %s has no entry in the permissions table", name)
		}
	}
	for name := range permissions {
		if _, ok := operations[name]; !ok {
			t.Errorf("permissions table names %s, which is no operation", name)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"", "", true},
		{"", "a", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a*c", "ac", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"stream/app-*", "stream/app-1", true},
		{"stream/app-*", "stream/app", false},
		{"*/consumer/*:*", "stream/s/consumer/c:123", true},
		{"*/consumer/*:*", "stream/s/consumer/c", false},
		{"a*b*c", "aXbYbZc", true},
		{"a**", "a", true},
		{"?", "", false},
	} {
		if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func TestPolicyEvaluate(t *testing.T) {
	p := &Policy{Statement: []Statement{
		{Effect: "Allow", Action: stringSet{"kinesis:*"}, Resource: stringSet{"*"}},
		{Effect: "Deny", Action: stringSet{"KINESIS:put*"}, Resource: stringSet{"arn:s/locked"}},
	}}
	if err := p.compile(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		action, resource string
		want             decision
	}{
		{"kinesis:PutRecord", "arn:s/open", allowed},
		{"kinesis:PutRecord", "arn:s/locked", explicitDeny},
		{"kinesis:GetRecords", "arn:s/locked", allowed},
		{"firehose:PutRecord", "arn:s/open", implicitDeny},
	} {
		if got := p.evaluate(tc.action, tc.resource); got != tc.want {
			t.Errorf("%s on %s: %v, want %v", tc.action, tc.resource, got, tc.want)
		}
	}
}

// TestLoadCredentials reads a credentials file and refuses the mistakes
// that would silently weaken it.
func TestLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"Credentials": [
		{"AccessKeyId": "AKIA1", "SecretAccessKey": "s1", "Arn": "arn:aws:iam::123456789012:user/alice",
		 "Policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kinesis:*", "Resource": ["arn:aws:kinesis:*:*:stream/a-*"]}]}},
		{"AccessKeyId": "ASIA2", "SecretAccessKey": "s2", "SessionToken": "tok"}]}`)
	c, err := LoadCredentials(good, "000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if p := c.byKey["AKIA1"]; p == nil || p.ARN != "arn:aws:iam::123456789012:user/alice" || p.Policy == nil || p.Policy.Statement[0].Action[0] != "kinesis:*" {
		t.Errorf("AKIA1: %+v", p)
	}
	if p := c.byKey["ASIA2"]; p == nil || p.ARN != "arn:aws:iam::000000000000:user/ASIA2" || p.SessionToken != "tok" || p.Policy != nil {
		t.Errorf("ASIA2: %+v", p)
	}
	for _, tc := range []struct{ content, want string }{
		{`{"Credentials": []}`, "lists no credentials"},
		{`{"Credentials": [{"AccessKeyId": "A", "SecretAccessKey": "s", "Policy": {"Statment": []}}]}`, `unknown field "Statment"`},
		{`{"Credentials": [{"AccessKeyId": "A"}]}`, "credential A has no SecretAccessKey"},
		{`{"Credentials": [{"AccessKeyId": "A", "SecretAccessKey": "s"}, {"AccessKeyId": "A", "SecretAccessKey": "t"}]}`, "access key id A is given twice"},
		{`{"Credentials": [{"AccessKeyId": "A/B", "SecretAccessKey": "s"}]}`, "may not contain"},
		{`{"Credentials": [{"AccessKeyId": "A", "SecretAccessKey": "s", "Policy": {"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}}]}`, `Effect must be Allow or Deny, not "allow"`},
		{`{"Credentials": [{"AccessKeyId": "A", "SecretAccessKey": "s", "Policy": {"Statement": [{"Effect": "Allow", "NotAction": "kinesis:Put*", "Action": "*", "Resource": "*"}]}}]}`, "not supported"},
		{`{"Credentials": [{"AccessKeyId": "A", "SecretAccessKey": "s", "Policy": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}]}`, `action "s3:*" is not a kinesis or firehose action`},
		{`{"Credentials": [{"AccessKeyId": "A", "SecretAccessKey": "s", "Policy": {"Statement": [{"Effect": "Allow", "Action": "kinesis:*"}]}}]}`, "no Resource"},
		{`{"Credentials": [{"AccessKeyId": "A", "SecretAccessKey": "s", "Policy": {"Statement": [{"Effect": "Allow", "Action": 7, "Resource": "*"}]}}]}`, "must be a string or a list of strings"},
	} {
		_, err := LoadCredentials(write("bad.json", tc.content), "000000000000")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.content, err, tc.want)
		}
	}
	if _, err := LoadCredentials(filepath.Join(dir, "missing.json"), "000000000000"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestAuthModes checks the modes without credentials: the default
// accepts any signature of the right form, AllowAnonymous anything.
func TestAuthModes(t *testing.T) {
	l, err := shardlog.Open(shardlog.Options{Dir: t.TempDir(), RetentionInterval: -1, Sync: shardlog.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dev := httptest.NewServer(New(l, Options{}))
	defer dev.Close()
	anon := httptest.NewServer(New(l, Options{AllowAnonymous: true}))
	defer anon.Close()
	req := rawRequest(t, dev.URL, "ListStreams", "{}")
	sign(t, req, "{}", aws.Credentials{AccessKeyID: "anyone", SecretAccessKey: "anything"}, "us-east-1", "kinesis", time.Now())
	if status, code, msg := send(t, req); status != 200 {
		t.Errorf("development mode, any key: %d %s %s", status, code, msg)
	}
	if status, code, _ := send(t, rawRequest(t, dev.URL, "ListStreams", "{}")); status != 400 || code != "MissingAuthenticationTokenException" {
		t.Errorf("development mode, unsigned: %d %s", status, code)
	}
	if status, code, msg := send(t, rawRequest(t, anon.URL, "ListStreams", "{}")); status != 200 {
		t.Errorf("anonymous, unsigned: %d %s %s", status, code, msg)
	}
	o := Options{AllowAnonymous: true, Credentials: &Credentials{}}
	o.EnsureDefaults()
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "AllowAnonymous and Credentials exclude each other") {
		t.Errorf("Validate of AllowAnonymous with Credentials: %v", err)
	}
	bad := rawRequest(t, anon.URL, "ListStreams", "{}")
	bad.Header.Set("Authorization", "garbage")
	if status, code, msg := send(t, bad); status != 200 {
		t.Errorf("anonymous, garbage signature: %d %s %s", status, code, msg)
	}
}
