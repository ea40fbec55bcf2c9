package kinesis

import (
	"strings"
	"testing"
)

func TestPositionsRoundTripAndRefusals(t *testing.T) {
	ents := []posEntry{{ID: "shardId-000000000000", Finished: true},
		{ID: "shardId-000000000001", Pos: &position{Type: AfterSequenceNumber, Seq: "49590338271490256608559692538361571095921575989136588898"}},
		{ID: "shardId-000000000002", Pos: &position{Type: AtTimestamp, Timestamp: 1700000000123}}}
	b, err := encodePositions("s", ents)
	if err != nil {
		t.Fatal(err)
	}
	stream, got, err := decodePositions(b)
	if err != nil || stream != "s" || len(got) != 3 || !got[0].Finished || *got[1].Pos != *ents[1].Pos || *got[2].Pos != *ents[2].Pos {
		t.Fatalf("%s %+v %v", stream, got, err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"v":2,"stream":"s","shards":[]}`, "checkpointed position format 2, this build reads 1"},
		{`{"v":1,"stream":"s","shards":[{"id":"shardId-000000000000"}]}`, "corrupt checkpointed position"},
		{`not json`, "corrupt checkpointed position"},
	} {
		if _, _, err := decodePositions([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.in, err, tc.want)
		}
	}
	// Sequence numbers compare as numbers, not strings.
	if !later("100", "99") || later("99", "100") || later("5", "5") {
		t.Error("later")
	}
}
