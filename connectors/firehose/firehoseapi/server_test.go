package firehoseapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/connectors/firehose"
)

// fakeBackend holds Start until release is closed (or fails it with
// startErr), and records what it was asked.
type fakeBackend struct {
	release  chan struct{}
	startErr error
	mu       sync.Mutex
	calls    []string
}

func (b *fakeBackend) log(s string) { b.mu.Lock(); b.calls = append(b.calls, s); b.mu.Unlock() }

func (b *fakeBackend) Start(ctx context.Context, ds DeliveryStream, cfg firehose.Config) error {
	<-b.release
	b.log("start " + ds.Name)
	return b.startErr
}
func (b *fakeBackend) Stop(ctx context.Context, name string) error { b.log("stop " + name); return nil }
func (b *fakeBackend) Remove(ctx context.Context, name string) error {
	b.log("remove " + name)
	return nil
}
func (b *fakeBackend) Put(ctx context.Context, name string, data [][]byte) ([]PutResult, error) {
	out := make([]PutResult, len(data))
	for i := range out {
		out[i].RecordID = "id"
	}
	return out, nil
}
func (b *fakeBackend) CheckSource(string) error { return nil }

func call(t *testing.T, s *Server, op, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", TargetPrefix+op)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: %v: %s", op, err, rec.Body.String())
		}
	}
	return rec.Code, out
}

const createBody = `{"DeliveryStreamName":"d","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b"}}`

func status(t *testing.T, s *Server) string {
	_, out := call(t, s, "DescribeDeliveryStream", `{"DeliveryStreamName":"d"}`)
	return out["DeliveryStreamDescription"].(map[string]any)["DeliveryStreamStatus"].(string)
}

// TestCreatingThenActive: a stream is CREATING until its delivery runs,
// refuses puts and deletion meanwhile, then is ACTIVE; its definition is
// found again by a new server on the same directory.
func TestCreatingThenActive(t *testing.T) {
	dir := t.TempDir()
	b := &fakeBackend{release: make(chan struct{})}
	s, err := New(context.Background(), Options{Dir: dir, Backend: b, AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := call(t, s, "CreateDeliveryStream", createBody); code != 200 || out["DeliveryStreamARN"] != "arn:aws:firehose:us-east-1:000000000000:deliverystream/d" {
		t.Fatalf("create: %d %v", code, out)
	}
	if st := status(t, s); st != StatusCreating {
		t.Fatalf("status %s, want CREATING", st)
	}
	if code, out := call(t, s, "PutRecord", `{"DeliveryStreamName":"d","Record":{"Data":"eA=="}}`); code != 400 || out["__type"] != "ResourceNotFoundException" {
		t.Fatalf("put while CREATING: %d %v", code, out)
	}
	if code, out := call(t, s, "DeleteDeliveryStream", `{"DeliveryStreamName":"d"}`); code != 400 || out["__type"] != "ResourceInUseException" {
		t.Fatalf("delete while CREATING: %d %v", code, out)
	}
	close(b.release)
	s.WaitIdle()
	if st := status(t, s); st != StatusActive {
		t.Fatalf("status %s, want ACTIVE", st)
	}
	if code, out := call(t, s, "PutRecord", `{"DeliveryStreamName":"d","Record":{"Data":"eA=="}}`); code != 200 || out["RecordId"] != "id" {
		t.Fatalf("put: %d %v", code, out)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2, err := New(context.Background(), Options{Dir: dir, Backend: b, AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := status(t, s2); st != StatusActive {
		t.Fatalf("after restart: %s", st)
	}
	if code, _ := call(t, s2, "DeleteDeliveryStream", `{"DeliveryStreamName":"d"}`); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	s2.WaitIdle()
	if code, out := call(t, s2, "DescribeDeliveryStream", `{"DeliveryStreamName":"d"}`); code != 400 || out["__type"] != "ResourceNotFoundException" {
		t.Fatalf("after delete: %d %v", code, out)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if got := strings.Join(b.calls, ","); got != "start d,stop d,start d,remove d" {
		t.Fatalf("backend calls: %s", got)
	}
}

// TestCreatingFailed: a delivery that cannot start leaves the stream
// CREATING_FAILED, which can be deleted.
func TestCreatingFailed(t *testing.T) {
	b := &fakeBackend{release: make(chan struct{}), startErr: errors.New("no")}
	close(b.release)
	s, err := New(context.Background(), Options{Dir: t.TempDir(), Backend: b, AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	call(t, s, "CreateDeliveryStream", createBody)
	s.WaitIdle()
	if st := status(t, s); st != StatusCreatingFailed {
		t.Fatalf("status %s, want CREATING_FAILED", st)
	}
	if code, _ := call(t, s, "DeleteDeliveryStream", `{"DeliveryStreamName":"d"}`); code != 200 {
		t.Fatalf("delete: %d", code)
	}
}

// TestProtocol: the front of the protocol answers as the service.
func TestProtocol(t *testing.T) {
	s, err := New(context.Background(), Options{Dir: t.TempDir(), Backend: &fakeBackend{release: make(chan struct{})}})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := call(t, s, "ListDeliveryStreams", `{}`); code != 400 || out["__type"] != "MissingAuthenticationTokenException" || out["message"] != "Missing Authentication Token" {
		t.Fatalf("unsigned: %d %v", code, out)
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", TargetPrefix+"NoSuchOperation")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 x")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"__type":"UnknownOperationException"`) {
		t.Fatalf("unknown operation: %d %s", rec.Code, rec.Body.String())
	}
	req = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"DeliveryStreamName": 5}`))
	req.Header.Set("X-Amz-Target", TargetPrefix+"DescribeDeliveryStream")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 x")
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"__type":"SerializationException"`) {
		t.Fatalf("bad body: %d %s", rec.Code, rec.Body.String())
	}
}
