package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/internal/durable"
)

// Destination receives the record of each batch a trigger gives up on. Send
// returns once the record is durable; the trigger moves past the batch only
// then, so that a record is never lost between the function and the
// destination (a crash may send one twice). records are the records given
// up, for a destination of the caller's that keeps them; Lambda's
// destinations, and this package's, send rec alone, never the data.
type Destination interface {
	Send(ctx context.Context, rec *FailureRecord, records []Record) error
}

// NewDestination returns the destination an OnFailure names: a stream of
// l (its ARN) or a directory (file:///path).
func NewDestination(l *shardlog.Log, dest string) (Destination, error) {
	if strings.HasPrefix(dest, "file://") {
		u, err := url.Parse(dest)
		if err != nil {
			return nil, fmt.Errorf("on-failure destination %q: %w", dest, err)
		}
		if err := os.MkdirAll(u.Path, 0o755); err != nil {
			return nil, fmt.Errorf("on-failure destination: %w", err)
		}
		return &DirDestination{Dir: u.Path}, nil
	}
	_, _, name, ok := ParseStreamARN(dest)
	if !ok {
		return nil, fmt.Errorf("on-failure destination %q is neither a stream ARN nor a file:// URL", dest)
	}
	if _, err := l.DescribeStream(shardlog.StreamRef{Name: name}); err != nil {
		return nil, fmt.Errorf("on-failure destination %s: %w", dest, err)
	}
	return &StreamDestination{Log: l, Stream: name}, nil
}

// DirDestination writes each record as one JSON file, named by its shard
// and sequence range (so that a record sent again after a crash replaces
// itself), durably.
type DirDestination struct{ Dir string }

// Send implements Destination.
func (d *DirDestination) Send(_ context.Context, rec *FailureRecord, _ []Record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("on-failure record: %w", err)
	}
	b := &rec.KinesisBatchInfo
	name := fmt.Sprintf("%s-%s-%s.json", b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber)
	if err := durable.WriteFile(filepath.Join(d.Dir, name), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("on-failure destination %s: %w", d.Dir, err)
	}
	return nil
}

// StreamDestination puts each record (its JSON as the data, the source
// shard as the partition key) into a stream of the log.
type StreamDestination struct {
	Log    *shardlog.Log
	Stream string
}

// Send implements Destination.
func (d *StreamDestination) Send(ctx context.Context, rec *FailureRecord, _ []Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("on-failure record: %w", err)
	}
	_, err = d.Log.PutRecord(ctx, shardlog.StreamRef{Name: d.Stream}, shardlog.PutEntry{PartitionKey: rec.KinesisBatchInfo.ShardID, Data: data}, "")
	if err != nil {
		return fmt.Errorf("on-failure destination stream %s: %w", d.Stream, err)
	}
	return nil
}
