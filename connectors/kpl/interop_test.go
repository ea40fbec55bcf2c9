package kpl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testseed"
)

// aggDir finds aws-kinesis-agg installed by .ci/setup.d/50-kpl.sh.
func aggDir() string {
	if d := os.Getenv("SLUICE_KPL_AGG_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "sluice-ci", "npm-kpl")
}

type jsRecord struct {
	PartitionKey      string `json:"partitionKey"`
	ExplicitHashKey   string `json:"explicitHashKey,omitempty"`
	SequenceNumber    string `json:"sequenceNumber,omitempty"`
	SubSequenceNumber *int64 `json:"subSequenceNumber,omitempty"`
	Data              string `json:"data"`
	Error             string `json:"error,omitempty"`
}

// runJS runs testdata/interop.js in mode with in as its input.
func runJS(t *testing.T, mode string, in []jsRecord) []jsRecord {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireOrSkip(t, "node not found")
	}
	dir := aggDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "aws-kinesis-agg", "package.json")); err != nil {
		requireOrSkip(t, "aws-kinesis-agg not installed in %s (run .ci/setup.d/50-kpl.sh)", dir)
	}
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script, _ := filepath.Abs("testdata/interop.js")
	cmd := exec.CommandContext(ctx, node, script, mode)
	cmd.Env = append(os.Environ(), "SLUICE_KPL_AGG_DIR="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(body), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node interop.js %s: %v\nstderr: %s", mode, err, stderr.String())
	}
	var out []jsRecord
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("node output: %v\n%s", err, stdout.String())
	}
	return out
}

func requireOrSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("SLUICE_REQUIRE_INTEGRATION") != "" {
		t.Fatalf(format+" (SLUICE_REQUIRE_INTEGRATION is set)", args...)
	}
	t.Skipf(format, args...)
}

func userKey(pk, ehk string, data []byte) string {
	return fmt.Sprintf("%s|%s|%x", pk, ehk, data)
}

// TestInteropJSAggregatesGoDeaggregates: records aws-kinesis-agg packs
// come out of the Go de-aggregator unchanged, in order, with sub-sequence
// numbers 0..n-1 per aggregate.
func TestInteropJSAggregatesGoDeaggregates(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	in := gen(rng, 400, 5000)
	// aws-kinesis-agg reads every user record's explicit_hash_key_index,
	// present or not, so give all or none one.
	for i := range in {
		in[i].ExplicitHashKey = ""
	}
	in = append(in, UserRecord{PartitionKey: "ünïcode-κλειδί", Data: []byte("{\"a\":1}")})
	var req []jsRecord
	for _, u := range in {
		req = append(req, jsRecord{PartitionKey: u.PartitionKey, Data: base64.StdEncoding.EncodeToString(u.Data)})
	}
	req = append(req, jsRecord{PartitionKey: "big", Data: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 700<<10))})
	in = append(in, UserRecord{PartitionKey: "big", Data: bytes.Repeat([]byte{7}, 700<<10)})
	encoded := runJS(t, "aggregate", req)
	if len(encoded) < 2 {
		t.Fatalf("aws-kinesis-agg made %d records of 2.7 MB: expected several", len(encoded))
	}
	var d Deaggregator
	var got []string
	for n, e := range encoded {
		data, err := base64.StdEncoding.DecodeString(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !IsAggregated(data) {
			t.Fatalf("record %d is not aggregated", n)
		}
		us, ce := d.Append(nil, e.PartitionKey, e.ExplicitHashKey, data)
		if ce != nil {
			t.Fatalf("record %d: %v", n, ce)
		}
		for i, u := range us {
			if u.SubSequenceNumber != uint64(i) {
				t.Fatalf("sub-sequence %d at %d", u.SubSequenceNumber, i)
			}
			got = append(got, userKey(u.PartitionKey, u.ExplicitHashKey, u.Data))
		}
	}
	if len(got) != len(in) {
		t.Fatalf("%d user records, want %d", len(got), len(in))
	}
	for i, u := range in {
		if w := userKey(u.PartitionKey, u.ExplicitHashKey, u.Data); got[i] != w {
			t.Fatalf("user record %d differs", i)
		}
	}
	// With explicit hash keys on every record.
	req = req[:0]
	for i := 0; i < 50; i++ {
		req = append(req, jsRecord{PartitionKey: fmt.Sprint("k", i%7), ExplicitHashKey: fmt.Sprint(i % 3), Data: base64.StdEncoding.EncodeToString([]byte(fmt.Sprint("v", i)))})
	}
	encoded = runJS(t, "aggregate", req)
	data, _ := base64.StdEncoding.DecodeString(encoded[0].Data)
	us, ce := d.Append(nil, encoded[0].PartitionKey, encoded[0].ExplicitHashKey, data)
	if ce != nil || len(us) != 50 {
		t.Fatalf("%d user records, %v", len(us), ce)
	}
	for i, u := range us {
		if u.PartitionKey != fmt.Sprint("k", i%7) || u.ExplicitHashKey != fmt.Sprint(i%3) || string(u.Data) != fmt.Sprint("v", i) {
			t.Fatalf("user record %d: %+v", i, u)
		}
	}
}

// TestInteropGoAggregatesJSDeaggregates: aggregates the Go aggregator
// makes (several shards, several aggregates each) are de-aggregated by
// aws-kinesis-agg with checksums verified, every user record unchanged
// and in order; a Go aggregate with a broken MD5 is refused by it too.
func TestInteropGoAggregatesJSDeaggregates(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	for _, withEHK := range []bool{false, true} {
		t.Run(fmt.Sprint("ehk=", withEHK), func(t *testing.T) {
			in := gen(rng, 600, 400)
			for i := range in {
				if withEHK {
					in[i].ExplicitHashKey = HashKey{Hi: rng.Uint64(), Lo: rng.Uint64()}.String()
				} else {
					in[i].ExplicitHashKey = ""
				}
			}
			a, err := NewAggregator(AggregatorOptions{MaxSize: 8000}, fourShards(t))
			if err != nil {
				t.Fatal(err)
			}
			var es []Entry
			for _, u := range in {
				if es, err = a.Add(es, u); err != nil {
					t.Fatal(err)
				}
			}
			es = a.Flush(es)
			var req []jsRecord
			want := map[string][]string{}
			plain := map[string]bool{} // entries sent as a single record, not aggregated
			for n, e := range es {
				if !IsAggregated(e.Data) {
					plain[fmt.Sprint(1000+n)] = true
				}
				req = append(req, jsRecord{PartitionKey: e.PartitionKey, SequenceNumber: fmt.Sprint(1000 + n), Data: base64.StdEncoding.EncodeToString(e.Data)})
				us, _ := Deaggregate(e.PartitionKey, e.ExplicitHashKey, e.Data)
				for _, u := range us {
					ehk := u.ExplicitHashKey
					if plain[fmt.Sprint(1000+n)] {
						ehk = "" // a plain record's explicit hash key is not in the data Kinesis returns
					}
					want[fmt.Sprint(1000+n)] = append(want[fmt.Sprint(1000+n)], userKey(u.PartitionKey, ehk, u.Data))
				}
			}
			broken := bytes.Clone(es[0].Data)
			broken[len(broken)-1] ^= 0xff
			req = append(req, jsRecord{PartitionKey: "a", SequenceNumber: "broken", Data: base64.StdEncoding.EncodeToString(broken)})
			out := runJS(t, "deaggregate", req)
			got := map[string][]string{}
			total := 0
			sawBroken := false
			for _, u := range out {
				if u.Error != "" {
					if u.SequenceNumber == "broken" {
						sawBroken = true
						continue
					}
					t.Fatalf("aws-kinesis-agg: %s: %s", u.SequenceNumber, u.Error)
				}
				if u.SequenceNumber == "broken" {
					t.Fatal("aws-kinesis-agg accepted a broken MD5")
				}
				data, _ := base64.StdEncoding.DecodeString(u.Data)
				// aws-kinesis-agg gives a record that is not an aggregate
				// the sub-sequence number -1.
				wantSub := int64(len(got[u.SequenceNumber]))
				if plain[u.SequenceNumber] {
					wantSub = -1
				}
				if u.SubSequenceNumber == nil || *u.SubSequenceNumber != wantSub {
					t.Fatalf("record %s: sub-sequence number %v (%+v) at %d", u.SequenceNumber, derefOr(u.SubSequenceNumber), u, len(got[u.SequenceNumber]))
				}
				ehk := u.ExplicitHashKey
				if !withEHK || plain[u.SequenceNumber] {
					ehk = ""
				}
				got[u.SequenceNumber] = append(got[u.SequenceNumber], userKey(u.PartitionKey, ehk, data))
				total++
			}
			if !sawBroken {
				t.Fatal("aws-kinesis-agg did not refuse a broken MD5")
			}
			if total != len(in) {
				t.Fatalf("aws-kinesis-agg found %d user records, want %d", total, len(in))
			}
			for seq, w := range want {
				if fmt.Sprint(w) != fmt.Sprint(got[seq]) {
					t.Fatalf("record %s: user records differ", seq)
				}
			}
		})
	}
}

func derefOr(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
