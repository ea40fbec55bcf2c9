package trigger

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestEventJSON: the event of a batch is the Lambda Kinesis event, field
// for field (testdata/event.json is the shape Lambda documents, with this
// batch's values).
func TestEventJSON(t *testing.T) {
	src := &eventSource{shardID: "shardId-000000000006", region: "us-east-2", eventSourceARN: "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream", identityARN: "arn:aws:iam::123456789012:role/lambda-role"}
	recs := []Record{
		{SequenceNumber: "49590338271490256608559692538361571095921575989136588898", PartitionKey: []byte("1"), Data: []byte("Hello, this is a test."), ArrivalTime: time.UnixMilli(1545084650987)},
		{SequenceNumber: "49590338271490256608559692540925702759324208523137515618", PartitionKey: []byte("k\"\n\x01é"), Data: []byte{0, 1, 2, 255}, ArrivalTime: time.UnixMilli(1545084711000)},
	}
	got := appendEvent(nil, src, recs)
	want, err := os.ReadFile(filepath.Join("testdata", "event.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(got) {
		t.Fatalf("event is not JSON:\n%s", got)
	}
	// Compact keeps the order of the fields: the event has Lambda's order.
	var w bytes.Buffer
	if err := json.Compact(&w, want); err != nil {
		t.Fatal(err)
	}
	if string(got) != w.String() {
		t.Fatalf("event:\n%s\nwant:\n%s", got, w.String())
	}
	// The arrival timestamp is a number of seconds with the milliseconds
	// as a fraction, written as Lambda writes it.
	if s := string(appendSeconds(nil, time.UnixMilli(1545084650980))); s != "1545084650.98" {
		t.Fatalf("seconds %s", s)
	}
}

// TestPartialResponse: a partial batch response is read as Lambda reads
// it (services-kinesis-batchfailurereporting: success and failure
// conditions).
func TestPartialResponse(t *testing.T) {
	batch := []Record{{SequenceNumber: "1"}, {SequenceNumber: "2"}, {SequenceNumber: "3"}}
	cases := []struct {
		resp    string
		from    int
		invalid bool
	}{
		{`{"batchItemFailures":[]}`, 3, false},
		{`{"batchItemFailures":null}`, 3, false},
		{`{}`, 3, false},
		{`null`, 3, false},
		{``, 3, false},
		{`"ok"`, 3, false},
		{`{"batchItemFailures":[{"itemIdentifier":"3"},{"itemIdentifier":"2"}]}`, 1, false},
		{`{"batchItemFailures":[{"itemIdentifier":"1"}]}`, 0, false},
		{`{"batchItemFailures":[{"itemIdentifier":""}]}`, 0, true},
		{`{"batchItemFailures":[{"itemIdentifier":null}]}`, 0, true},
		{`{"batchItemFailures":[{"itemIdentifer":"2"}]}`, 0, true},
		{`{"batchItemFailures":[{"itemIdentifier":"9"}]}`, 0, true},
		{`{"batchItemFailures":[{"itemIdentifier":2}]}`, 0, true},
	}
	for _, tc := range cases {
		pr := parsePartial([]byte(tc.resp), batch)
		if (pr.invalid != "") != tc.invalid || (!tc.invalid && pr.retryFrom != tc.from) {
			t.Errorf("%s: got %+v, want from %d invalid %v", tc.resp, pr, tc.from, tc.invalid)
		}
	}
}
