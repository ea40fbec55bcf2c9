package trigger

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/durable"
)

// positionsFile is the file of a trigger's shard positions in its state
// directory.
const positionsFile = "positions.json"

// positionsFormat is the positions file's format number.
const positionsFormat = 1

// ShardPosition is how far a trigger has come in one shard: every record
// up to and including SequenceNumber is done (processed by the function or
// given to the on-failure destination); Finished once the shard is closed
// and done to its end.
type ShardPosition struct {
	// SequenceNumber is read back as AFTER_SEQUENCE_NUMBER.
	SequenceNumber string `json:"sequenceNumber"`
	// AtTimestampMs, with no SequenceNumber, is a start not yet past its
	// first record: AT_TIMESTAMP this Unix ms (a Kinesis source's LATEST
	// is kept as the time it began). Neither: TRIM_HORIZON.
	AtTimestampMs int64 `json:"atTimestampMs,omitempty"`
	Finished      bool  `json:"finished,omitempty"`
}

type positionsDoc struct {
	Format int `json:"format"`
	// StreamCreated (Unix ms) tells the stream from a later one of the
	// same name: positions of another stream are not resumed.
	StreamCreated int64                    `json:"streamCreatedMs"`
	Shards        map[string]ShardPosition `json:"shards"`
}

// positions is a trigger's durable per-shard positions: one JSON file,
// replaced atomically (internal/durable) at every checkpoint, so that after
// a crash it holds a complete set of positions no later than the records
// the function has done.
//
// Writes are group-committed: while one write is under way, the shards
// that checkpoint meanwhile wait and are written together by the next, so
// that shards do not queue behind each other's fsyncs.
type positions struct {
	path string
	mu   sync.Mutex
	cond sync.Cond
	doc  positionsDoc

	version uint64 // changes made to doc
	written uint64 // changes durable
	writing bool
}

func openPositions(dir string, streamCreated int64, logf func(string, ...any)) (*positions, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("trigger state: %w", err)
	}
	p := &positions{path: filepath.Join(dir, positionsFile)}
	p.cond.L = &p.mu
	data, err := os.ReadFile(p.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("trigger state: %w", err)
	default:
		if err := json.Unmarshal(data, &p.doc); err != nil {
			return nil, fmt.Errorf("trigger state %s: %w", p.path, err)
		}
		if p.doc.Format != positionsFormat {
			return nil, fmt.Errorf("trigger state %s: format %d, this build reads %d", p.path, p.doc.Format, positionsFormat)
		}
	}
	if p.doc.StreamCreated != streamCreated {
		// Another stream of that name, or a first run: start afresh.
		if len(p.doc.Shards) > 0 {
			logf("trigger state %s: the stream was created again (at %s); its positions start afresh", p.path, time.UnixMilli(streamCreated).UTC().Format(time.RFC3339))
		}
		p.doc = positionsDoc{StreamCreated: streamCreated}
	}
	p.doc.Format = positionsFormat
	if p.doc.Shards == nil {
		p.doc.Shards = map[string]ShardPosition{}
	}
	return p, nil
}

// get returns shard's position and whether it has one.
func (p *positions) get(shard string) (ShardPosition, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.doc.Shards[shard]
	return v, ok
}

// set records shard's position durably: it returns once a write that
// holds it is done.
func (p *positions) set(shard string, v ShardPosition) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.doc.Shards[shard] = v
	p.version++
	mine := p.version
	for p.written < mine {
		if p.writing {
			p.cond.Wait()
			continue
		}
		p.writing = true
		ver := p.version
		data, err := json.MarshalIndent(&p.doc, "", "  ")
		if err == nil {
			p.mu.Unlock()
			err = durable.WriteFile(p.path, data, 0o644)
			p.mu.Lock()
		}
		p.writing = false
		p.cond.Broadcast()
		if err != nil {
			return fmt.Errorf("trigger state: %w", err)
		}
		p.written = max(p.written, ver)
	}
	return nil
}

// snapshot copies every shard's position.
func (p *positions) snapshot() map[string]ShardPosition {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]ShardPosition, len(p.doc.Shards))
	for k, v := range p.doc.Shards {
		out[k] = v
	}
	return out
}
