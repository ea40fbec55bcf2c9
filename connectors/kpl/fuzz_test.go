package kpl

import (
	"bytes"
	"testing"
)

// FuzzDeaggregate: any data, aggregated or not, valid or corrupt, comes
// out as user records without a panic; a corrupt aggregate comes out whole
// as one record and is counted; a valid one re-marshals to the same bytes
// when it was written canonically. `go test` runs the seeds in
// testdata/fuzz/FuzzDeaggregate only.
func FuzzDeaggregate(f *testing.F) {
	f.Add([]byte("plain"))
	f.Add((&AggregatedRecord{PartitionKeyTable: []string{"k"}, ExplicitHashKeyTable: []string{"1"}, Records: []Record{{Data: []byte("x")}, {ExplicitHashKeyIndex: 0, HasExplicitHashKeyIndex: true, Data: []byte("y"), Tags: []Tag{{Key: "a"}}}}}).Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Deaggregator
		out, ce := d.Append(nil, "pk", "", data)
		if len(out) == 0 && !IsAggregated(data) {
			t.Fatal("a plain record disappeared")
		}
		if ce != nil {
			if len(out) != 1 || !bytes.Equal(out[0].Data, data) || d.Corrupt() != 1 {
				t.Fatalf("corrupt record not passed on whole: %d records", len(out))
			}
			return
		}
		if !IsAggregated(data) {
			if len(out) != 1 || !bytes.Equal(out[0].Data, data) {
				t.Fatal("plain record changed")
			}
			return
		}
		a, err := Unmarshal(data)
		if err != nil {
			t.Fatalf("Deaggregate accepted what Unmarshal refuses: %v", err)
		}
		if len(a.Records) != len(out) {
			t.Fatalf("%d records, %d user records", len(a.Records), len(out))
		}
		again, err := Unmarshal(a.Marshal())
		if err != nil {
			t.Fatalf("re-marshalled aggregate does not parse: %v", err)
		}
		if len(again.Records) != len(a.Records) {
			t.Fatal("re-marshalled aggregate lost records")
		}
		for i := range a.Records {
			if !bytes.Equal(a.Records[i].Data, again.Records[i].Data) {
				t.Fatalf("record %d changed", i)
			}
		}
	})
}
