package kinesis

import (
	"encoding/json"
	"fmt"
	"math/big"
	"time"
)

// Iterator types of a start position, as the Kinesis API names them.
const (
	TrimHorizon         = "TRIM_HORIZON"
	Latest              = "LATEST"
	AtTimestamp         = "AT_TIMESTAMP"
	AfterSequenceNumber = "AFTER_SEQUENCE_NUMBER"
	// AtSequenceNumber with a sub-sequence number is a position inside a
	// KPL aggregate: read from the aggregate, skipping Sub user records.
	AtSequenceNumber = "AT_SEQUENCE_NUMBER"
)

// position is where a shard is read from: TRIM_HORIZON, AT_TIMESTAMP with
// a time, or AFTER_SEQUENCE_NUMBER with a sequence number. A split never
// carries LATEST: the coordinator turns it into AT_TIMESTAMP at the job's
// first start, so that a restore reads from the same point.
type position struct {
	Type string `json:"type"`
	// Timestamp is AT_TIMESTAMP's, in ms since the epoch.
	Timestamp int64 `json:"ts,omitempty"`
	// Seq is AFTER_SEQUENCE_NUMBER's and AT_SEQUENCE_NUMBER's.
	Seq string `json:"seq,omitempty"`
	// Sub is AT_SEQUENCE_NUMBER's: how many user records of the KPL
	// aggregate at Seq were already emitted.
	Sub uint64 `json:"sub,omitempty"`
	// Latest marks an AT_TIMESTAMP that stands for LATEST: where the
	// endpoint's clock is behind ours and refuses the time as in the
	// future, the shard is read from LATEST instead.
	Latest bool `json:"latest,omitempty"`
}

func (p position) String() string {
	switch p.Type {
	case AtTimestamp:
		return AtTimestamp + " " + time.UnixMilli(p.Timestamp).UTC().Format(time.RFC3339Nano)
	case AfterSequenceNumber:
		return AfterSequenceNumber + " " + p.Seq
	case AtSequenceNumber:
		return fmt.Sprintf("%s %s/%d", AtSequenceNumber, p.Seq, p.Sub)
	}
	return p.Type
}

// positionsVersion is the version of a reader's checkpointed position: a
// JSON object {"v":1,"stream":name-or-ARN,"shards":[entry...]}, one entry
// per shard the reader owns: {"id":shard id,"end":true} for a shard read
// to its end, else {"id":...,"pos":position}.
const positionsVersion = 1

type positionsDoc struct {
	V      int        `json:"v"`
	Stream string     `json:"stream"`
	Shards []posEntry `json:"shards"`
}

type posEntry struct {
	ID       string    `json:"id"`
	Finished bool      `json:"end,omitempty"`
	Pos      *position `json:"pos,omitempty"`
}

func encodePositions(stream string, ents []posEntry) ([]byte, error) {
	b, err := json.Marshal(positionsDoc{V: positionsVersion, Stream: stream, Shards: ents})
	if err != nil {
		return nil, fmt.Errorf("kinesis: source: encode positions: %w", err)
	}
	return b, nil
}

func decodePositions(b []byte) (stream string, ents []posEntry, err error) {
	var d positionsDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return "", nil, fmt.Errorf("kinesis: source: corrupt checkpointed position: %w", err)
	}
	if d.V != positionsVersion {
		return "", nil, fmt.Errorf("kinesis: source: checkpointed position format %d, this build reads %d", d.V, positionsVersion)
	}
	for _, e := range d.Shards {
		if e.ID == "" || !e.Finished && e.Pos == nil {
			return "", nil, fmt.Errorf("kinesis: source: corrupt checkpointed position: entry %+v", e)
		}
	}
	return d.Stream, d.Shards, nil
}

// later reports whether sequence number a comes after b. Kinesis sequence
// numbers are decimal integers of up to 128 bits.
func later(a, b string) bool {
	x, ok1 := new(big.Int).SetString(a, 10)
	y, ok2 := new(big.Int).SetString(b, 10)
	if !ok1 || !ok2 {
		return len(a) > len(b) || len(a) == len(b) && a > b
	}
	return x.Cmp(y) > 0
}

// ahead reports whether position a is further into its shard than b (both
// of one shard). AFTER s is past every user record of s; AT s/k is past
// the records before s and k user records of s.
func ahead(a, b position) bool {
	seqPos := func(p position) bool { return p.Type == AfterSequenceNumber || p.Type == AtSequenceNumber }
	switch {
	case seqPos(a) && seqPos(b):
		if a.Seq != b.Seq {
			return later(a.Seq, b.Seq)
		}
		switch {
		case a.Type == b.Type:
			return a.Sub > b.Sub
		default:
			return a.Type == AfterSequenceNumber
		}
	case seqPos(a):
		return true
	default:
		return false
	}
}
