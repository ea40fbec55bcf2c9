package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
//	  ],
//	  "jobs": [{"name": "orders-per-minute", "sql_file": "orders.sql"}]
//	}
//
// A delivery stream is a CreateDeliveryStream request as the API takes
// it (AWS's member names). A job is a POST /v1/jobs body (JobSpec), its
// SQL given inline ("sql") or as a file ("sql_file", relative to the
// config file); it is submitted when no job of its name exists. What
// exists already is left as it is, so the same file can be applied at
// every start.
type Config struct {
	Streams         []StreamConfig    `json:"streams"`
	DeliveryStreams []json.RawMessage `json:"delivery_streams"`
	Jobs            []JobConfig       `json:"jobs"`
}

// JobConfig is a job to submit at start.
type JobConfig struct {
	JobSpec
	// SQLFile is the pipeline's file, read by ReadConfig (relative to the
	// config file), instead of SQL.
	SQLFile string `json:"sql_file,omitempty"`
}

// ReadConfig reads and parses a config file, reading each job's sql_file
// relative to it.
func ReadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(raw)
	if err != nil {
		return Config{}, err
	}
	for i := range c.Jobs {
		j := &c.Jobs[i]
		if j.SQLFile == "" {
			continue
		}
		f := j.SQLFile
		if !filepath.IsAbs(f) {
			f = filepath.Join(filepath.Dir(path), f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return Config{}, fmt.Errorf("service config: jobs[%d].sql_file: %w", i, err)
		}
		j.SQL, j.SQLFile = string(b), ""
	}
	return c, nil
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
	names := map[string]bool{}
	for i, j := range c.Jobs {
		switch {
		case j.Name == "":
			return Config{}, fmt.Errorf("service config: jobs[%d].name is required (a job is submitted at start when none of its name exists)", i)
		case names[j.Name]:
			return Config{}, fmt.Errorf("service config: jobs[%d].name %q is given twice", i, j.Name)
		case j.SQLFile != "" && j.SQL != "":
			return Config{}, fmt.Errorf("service config: jobs[%d]: \"sql\" and \"sql_file\" exclude each other", i)
		}
		names[j.Name] = true
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
	for i, jc := range c.Jobs {
		exists := false
		for _, j := range s.jobsM.list() {
			if rec, _, _ := j.snapshot(); rec.Name == jc.Name {
				exists = true
				break
			}
		}
		if exists {
			continue
		}
		if jc.SQLFile != "" {
			return created, fmt.Errorf("jobs[%d] %q: sql_file is read by ReadConfig", i, jc.Name)
		}
		if _, err := s.jobsM.submit(jc.JobSpec); err != nil {
			var se *SpecError
			if errors.As(err, &se) {
				return created, fmt.Errorf("jobs[%d].%s: %s", i, se.Field, se.Message)
			}
			return created, fmt.Errorf("jobs[%d] %q: %w", i, jc.Name, err)
		}
		created = append(created, "job "+jc.Name)
	}
	return created, nil
}
