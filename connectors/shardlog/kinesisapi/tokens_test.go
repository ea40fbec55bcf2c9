package kinesisapi

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// TestIteratorTokens: a shard iterator token round-trips, stays valid
// across a restart of the log (its key is in the log's directory), and an
// altered or foreign one is refused with "Invalid ShardIterator.".
func TestIteratorTokens(t *testing.T) {
	dir := t.TempDir()
	opts := shardlog.Options{Dir: dir, RetentionInterval: -1, Sync: shardlog.SyncNone}
	l, err := shardlog.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	s := New(l, Options{})
	getIterator := func(s *Server) string {
		w := call(s, "GetShardIterator", ctJSON, []byte(`{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`), true)
		var out struct{ ShardIterator string }
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 200 {
			t.Fatalf("GetShardIterator: %d %s", w.Code, w.Body)
		}
		return out.ShardIterator
	}
	getRecords := func(s *Server, it string) (int, string, string) {
		body, _ := json.Marshal(map[string]string{"ShardIterator": it})
		w := call(s, "GetRecords", ctJSON, body, true)
		if w.Code == 200 {
			return 200, "", ""
		}
		return jsonErr(t, w)
	}
	if w := call(s, "PutRecord", ctJSON, []byte(`{"StreamName":"s","PartitionKey":"k","Data":"eA=="}`), true); w.Code != 200 {
		t.Fatalf("put: %d %s", w.Code, w.Body)
	}
	tok := getIterator(s)
	it, err := s.decodeIterator(tok)
	if err != nil || it.Stream != "s" || it.Next != (shardlog.SequenceNumber{}) || s.encodeIterator(it) != tok {
		t.Fatalf("round trip: %+v %v", it, err)
	}
	raw, _ := base64.StdEncoding.DecodeString(tok)
	for name, bad := range map[string]string{
		"altered position": func() string {
			b := append([]byte(nil), raw...)
			b[20] ^= 1
			return base64.StdEncoding.EncodeToString(b)
		}(),
		"altered mac": func() string {
			b := append([]byte(nil), raw...)
			b[len(b)-1] ^= 1
			return base64.StdEncoding.EncodeToString(b)
		}(),
		"short":      base64.StdEncoding.EncodeToString(raw[:20]),
		"not base64": "not-an-iterator",
	} {
		if status, typ, msg := getRecords(s, bad); status != 400 || typ != "InvalidArgumentException" || msg != "Invalid ShardIterator." {
			t.Errorf("%s: %d %s %q", name, status, typ, msg)
		}
	}
	if status, _, msg := getRecords(s, tok); status != 200 {
		t.Fatalf("valid token refused: %s", msg)
	}
	l.Close()

	// After a restart the token still reads; a log with another key (another
	// directory) refuses it.
	l, err = shardlog.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if status, _, msg := getRecords(New(l, Options{}), tok); status != 200 {
		t.Fatalf("token after restart: %s", msg)
	}
	other, _ := newHandler(t)
	if status, typ, msg := getRecords(other, tok); status != 400 || msg != "Invalid ShardIterator." {
		t.Fatalf("token of another log: %d %s %q", status, typ, msg)
	}
}
