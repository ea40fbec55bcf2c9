package kafka

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// tp names a partition of a topic.
type tp struct {
	Topic     string
	Partition int32
}

func (t tp) String() string { return t.Topic + "-" + strconv.Itoa(int(t.Partition)) }

func compareTP(a, b tp) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// split is the unit of assignment: one partition, the offset of the next
// record to read, and (bounded) the offset to stop before, or -1.
type split struct {
	Topic     string `json:"t"`
	Partition int32  `json:"p"`
	Next      int64  `json:"next"`
	Stop      int64  `json:"stop"`
}

func (s split) tp() tp { return tp{s.Topic, s.Partition} }

// positionsVersion is the version of a reader's checkpointed position: a
// JSON object {"v":1,"parts":[split...]}, one entry per partition the
// reader owns, finished ones (next >= stop) included, sorted by topic and
// partition.
const positionsVersion = 1

type positionsDoc struct {
	V     int     `json:"v"`
	Parts []split `json:"parts"`
}

func encodePositions(ss []split) ([]byte, error) {
	slices.SortFunc(ss, func(a, b split) int { return compareTP(a.tp(), b.tp()) })
	b, err := json.Marshal(positionsDoc{V: positionsVersion, Parts: ss})
	if err != nil {
		return nil, fmt.Errorf("kafka: source: encode positions: %w", err)
	}
	return b, nil
}

func decodePositions(b []byte) ([]split, error) {
	var d positionsDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("kafka: source: corrupt checkpointed position: %w", err)
	}
	if d.V != positionsVersion {
		return nil, fmt.Errorf("kafka: source: checkpointed position format %d, this build reads %d", d.V, positionsVersion)
	}
	for _, s := range d.Parts {
		if s.Topic == "" || s.Partition < 0 || s.Next < 0 {
			return nil, fmt.Errorf("kafka: source: corrupt checkpointed position: entry %+v", s)
		}
	}
	return d.Parts, nil
}
