package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// Config lists what the service creates at start (`sluice serve
// --config FILE`). It is JSON:
//
//	{
//	  "streams": [{"name": "orders", "shard_count": 2}],
//	  "delivery_streams": [
//	    {"DeliveryStreamName": "orders-to-lake",
//	     "ExtendedS3DestinationConfiguration": {
//	       "RoleARN": "arn:aws:iam::000000000000:role/firehose",
//	       "BucketARN": "arn:aws:s3:::lake",
//	       "BufferingHints": {"IntervalInSeconds": 60}}}
//	  ]
//	}
//
// A delivery stream is a CreateDeliveryStream request as the API takes
// it (AWS's member names). What exists already is left as it is, so the
// same file can be applied at every start.
type Config struct {
	Streams         []StreamConfig    `json:"streams"`
	DeliveryStreams []json.RawMessage `json:"delivery_streams"`
}

// StreamConfig is a Kinesis stream to create.
type StreamConfig struct {
	Name       string `json:"name"`
	ShardCount int    `json:"shard_count"`
}

// ParseConfig reads a Config, refusing unknown keys.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("service config: %w", err)
	}
	for i, st := range c.Streams {
		if st.Name == "" {
			return Config{}, fmt.Errorf("service config: streams[%d].name is required", i)
		}
		if st.ShardCount < 1 {
			return Config{}, fmt.Errorf("service config: streams[%d].shard_count must be at least 1", i)
		}
	}
	return c, nil
}

// Apply creates what c lists and is missing, and reports what it created.
func (s *Service) Apply(ctx context.Context, c Config) ([]string, error) {
	var created []string
	for i, st := range c.Streams {
		if _, err := s.log.DescribeStream(shardlog.StreamRef{Name: st.Name}); err == nil {
			continue
		} else if !errors.Is(err, shardlog.ErrResourceNotFound) {
			return created, err
		}
		if err := s.log.CreateStream(shardlog.CreateStreamInput{Name: st.Name, ShardCount: st.ShardCount}); err != nil {
			return created, fmt.Errorf("streams[%d] %q: %w", i, st.Name, err)
		}
		created = append(created, "stream "+st.Name)
	}
	for i, raw := range c.DeliveryStreams {
		var named struct{ DeliveryStreamName string }
		json.Unmarshal(raw, &named)
		ok, err := s.fh.CreateIfMissing(ctx, raw)
		if err != nil {
			return created, fmt.Errorf("delivery_streams[%d] %q: %w", i, named.DeliveryStreamName, err)
		}
		if ok {
			created = append(created, "delivery stream "+named.DeliveryStreamName)
			if err := s.fh.WaitActive(ctx, named.DeliveryStreamName); err != nil {
				return created, err
			}
		}
	}
	return created, nil
}
