package planner

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3checkpoint"
	"github.com/sluicehq/sluice/engine"
)

// CheckpointDirKeys name where a script's checkpoints go, as Flink's
// options do (execution.checkpointing.dir since Flink 1.20,
// state.checkpoints.dir before it): a local directory, file://, or an
// s3:// (s3a://) bucket and prefix, reached with the script's 's3.*'
// settings (the same names as the filesystem table's options) and the
// usual AWS credential chain.
var CheckpointDirKeys = []string{"execution.checkpointing.dir", "state.checkpoints.dir"}

// NumRetainedKeys name how many completed checkpoints are kept.
var NumRetainedKeys = []string{"execution.checkpointing.num-retained", "state.checkpoints.num-retained"}

func (p *Program) setting(keys []string) (string, string, bool) {
	for _, k := range keys {
		if v, ok := p.Catalog.Settings[k]; ok {
			return k, v, true
		}
	}
	return "", "", false
}

// SetsCheckpointDir reports whether the script says where its
// checkpoints go.
func (p *Program) SetsCheckpointDir() bool {
	_, _, ok := p.setting(CheckpointDirKeys)
	return ok
}

// CheckpointStorage is the checkpoint storage the script's SET
// 'execution.checkpointing.dir' names, for the job called job: the job's
// checkpoints go under <dir>/<job> (so that the jobs of one script never
// share checkpoints), or nil when the script does not set it. For an
// s3:// location nothing is contacted yet.
func (p *Program) CheckpointStorage(job string) (engine.CheckpointStorage, error) {
	key, v, ok := p.setting(CheckpointDirKeys)
	if !ok {
		return nil, nil
	}
	v = strings.TrimSpace(v)
	sub := jobDirName(job)
	bucket, prefix, isS3, err := s3checkpoint.ParseURL(v)
	if err != nil {
		return nil, fmt.Errorf("SET '%s' = '%s': %w", key, v, err)
	}
	if !isS3 {
		if i := strings.Index(v, "://"); i >= 0 && !strings.HasPrefix(v, "file://") {
			return nil, fmt.Errorf("SET '%s' = '%s': scheme '%s' is not supported (local paths, file://, s3:// and s3a:// are)", key, v, v[:i])
		}
		if v == "" {
			return nil, fmt.Errorf("SET '%s' needs a directory", key)
		}
		return engine.LocalStorage{Dir: filepath.Join(strings.TrimPrefix(v, "file://"), sub)}, nil
	}
	s := p.Catalog.Settings
	cfg := s3.Config{Bucket: bucket, Endpoint: s["s3.endpoint"], Region: s["s3.region"],
		AccessKeyID: s["s3.access-key-id"], SecretAccessKey: s["s3.secret-access-key"]}
	switch ps := s["s3.path-style"]; ps {
	case "", "false":
	case "true":
		cfg.UsePathStyle = true
	default:
		return nil, fmt.Errorf("SET 's3.path-style' = '%s': want 'true' or 'false'", ps)
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, fmt.Errorf("SET 's3.access-key-id' and 's3.secret-access-key' go together")
	}
	b, err := s3.Open(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("SET '%s' = '%s': %w", key, v, err)
	}
	if prefix != "" {
		prefix += "/"
	}
	st, err := s3checkpoint.New(b, s3checkpoint.Options{Prefix: prefix + sub})
	if err != nil {
		return nil, fmt.Errorf("SET '%s' = '%s': %w", key, v, err)
	}
	return st, nil
}

// numRetained is the script's number of checkpoints to keep (0: the
// engine's default).
func (p *Program) numRetained() (int, error) {
	key, v, ok := p.setting(NumRetainedKeys)
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("SET '%s' = '%s': want a positive integer", key, v)
	}
	return n, nil
}

// jobDirName makes a job's name usable as one path element.
func jobDirName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if s := strings.Trim(string(b), "."); s != "" {
		return string(b)
	}
	return "job"
}
