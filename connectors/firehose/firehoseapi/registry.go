package firehoseapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/durable"
)

// Delivery stream statuses.
const (
	StatusCreating = "CREATING"
	// StatusCreatingFailed: the delivery could not start (see the
	// server's error log); the stream can only be deleted.
	StatusCreatingFailed = "CREATING_FAILED"
	StatusActive         = "ACTIVE"
	StatusDeleting       = "DELETING"
)

// DeliveryStream is a delivery stream's definition as the API created it,
// kept in the server's directory across restarts.
type DeliveryStream struct {
	Name    string    `json:"name"`
	ARN     string    `json:"arn"`
	Type    string    `json:"type"`
	Status  string    `json:"status"`
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// Source is the Kinesis stream of a KinesisStreamAsSource stream.
	Source *KinesisStreamSourceConfiguration `json:"source,omitempty"`
	// Exactly one destination.
	S3   *ExtendedS3DestinationConfiguration   `json:"s3,omitempty"`
	HTTP *HttpEndpointDestinationConfiguration `json:"http,omitempty"`
	Tags []Tag                                 `json:"tags,omitempty"`
}

// registry is the set of definitions, written to one file durably on
// every change.
type registry struct {
	path string
	mu   sync.Mutex
	m    map[string]DeliveryStream
}

const registryFile = "delivery-streams.json"

func openRegistry(dir string) (*registry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("firehoseapi: %w", err)
	}
	r := &registry{path: filepath.Join(dir, registryFile), m: map[string]DeliveryStream{}}
	b, err := os.ReadFile(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("firehoseapi: %w", err)
	}
	var list []DeliveryStream
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("firehoseapi: %s: %w", r.path, err)
	}
	for _, ds := range list {
		r.m[ds.Name] = ds
	}
	return r, nil
}

func (r *registry) all() []DeliveryStream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sortedLocked()
}

func (r *registry) sortedLocked() []DeliveryStream {
	out := make([]DeliveryStream, 0, len(r.m))
	for _, ds := range r.m {
		out = append(out, ds)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *registry) get(name string) (DeliveryStream, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, ok := r.m[name]
	return ds, ok
}

// put stores ds, replacing the definition of its name.
func (r *registry) put(ds DeliveryStream) error {
	return r.update(func(m map[string]DeliveryStream) error { m[ds.Name] = ds; return nil })
}

// update applies f to the definitions and writes them if f succeeds; on
// a failed write the change is undone.
func (r *registry) update(f func(map[string]DeliveryStream) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	before := make(map[string]DeliveryStream, len(r.m))
	for k, v := range r.m {
		before[k] = v
	}
	if err := f(r.m); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r.sortedLocked(), "", "  ")
	if err == nil {
		err = durable.WriteFile(r.path, b, 0o644)
	}
	if err != nil {
		r.m = before
		return fmt.Errorf("firehoseapi: save delivery streams: %w", err)
	}
	return nil
}
