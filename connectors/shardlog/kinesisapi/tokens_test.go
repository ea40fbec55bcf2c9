package kinesisapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

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
		"altered version": func() string {
			b := append([]byte(nil), raw...)
			b[7] = 2
			return base64.StdEncoding.EncodeToString(b)
		}(),
		"altered iv": func() string {
			b := append([]byte(nil), raw...)
			b[9] ^= 0x80
			return base64.StdEncoding.EncodeToString(b)
		}(),
		"truncated":  base64.StdEncoding.EncodeToString(raw[:len(raw)-16]),
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

// TestIteratorShape: iterators look like the service's — the 8-byte
// version 1 first ("AAAAAAAAAAE".."AAAAAAAAAAH"), standard base64, 224
// characters for a short stream name and longer in the steps the service's
// take as the name grows — and each round-trips, the same position giving
// the same iterator; an iterator of the earlier, shorter form still reads.
func TestIteratorShape(t *testing.T) {
	s, l := newHandler(t)
	created := time.UnixMilli(1772600767123)
	for _, c := range []struct {
		name  int
		chars int
	}{{1, 224}, {4, 224}, {11, 224}, {12, 248}, {13, 248}, {27, 248}, {28, 268}, {48, 288}, {128, 396}} {
		it := shardlog.ShardIterator{Stream: strings.Repeat("n", c.name), StreamCreated: created, Next: shardlog.SequenceNumber{Shard: 7, Pos: 1<<40 + 3}, Issued: created.Add(time.Minute)}
		tok := s.encodeIterator(it)
		if len(tok) != c.chars || !strings.HasPrefix(tok, "AAAAAAAAAA") || !strings.ContainsAny(tok[10:11], "EFGH") {
			t.Fatalf("name of %d bytes: iterator %q (%d characters), want %d beginning AAAAAAAAAA[EFGH]", c.name, tok, len(tok), c.chars)
		}
		if _, err := base64.StdEncoding.Strict().DecodeString(tok); err != nil {
			t.Fatalf("iterator %q: %v", tok, err)
		}
		back, err := s.decodeIterator(tok)
		if err != nil || back != it {
			t.Fatalf("round trip of %+v: %+v %v", it, back, err)
		}
		if again := s.encodeIterator(it); again != tok {
			t.Fatalf("the same position gave two iterators: %s, %s", tok, again)
		}
		it.Next.Pos++
		if s.encodeIterator(it)[:40] == tok[:40] {
			t.Fatalf("the next position's iterator begins as this one's: %s", tok)
		}
	}

	// The earlier form: version byte 1, the fields in the clear, an HMAC.
	old := []byte{1}
	old = binary.BigEndian.AppendUint64(old, uint64(created.UnixMilli()))
	old = binary.BigEndian.AppendUint32(old, 2)
	old = binary.BigEndian.AppendUint64(old, 5)
	old = binary.BigEndian.AppendUint64(old, uint64(created.UnixMilli()+1000))
	old = append(old, 1, 's')
	m := hmac.New(sha256.New, l.IteratorKey())
	m.Write(old)
	old = m.Sum(old)[:len(old)+16]
	it, err := s.decodeIterator(base64.StdEncoding.EncodeToString(old))
	want := shardlog.ShardIterator{Stream: "s", StreamCreated: created, Next: shardlog.SequenceNumber{Shard: 2, Pos: 5}, Issued: created.Add(time.Second)}
	if err != nil || it != want {
		t.Fatalf("an iterator of the earlier form reads as %+v %v, want %+v", it, err, want)
	}
	old[5] ^= 1
	if _, err := s.decodeIterator(base64.StdEncoding.EncodeToString(old)); err != errBadIterator {
		t.Fatalf("an altered iterator of the earlier form: %v", err)
	}
}

func BenchmarkIterator(b *testing.B) {
	s, _ := newHandler(b)
	it := shardlog.ShardIterator{Stream: "orders", StreamCreated: time.UnixMilli(1772600767123), Next: shardlog.SequenceNumber{Shard: 7, Pos: 12345}, Issued: time.UnixMilli(1772600867123)}
	for b.Loop() {
		if _, err := s.decodeIterator(s.encodeIterator(it)); err != nil {
			b.Fatal(err)
		}
	}
}
