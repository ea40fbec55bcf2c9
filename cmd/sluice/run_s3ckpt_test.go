package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3test"
)

// TestRunCheckpointsToS3 runs a script whose checkpoints go to S3 (SET
// 'execution.checkpointing.dir' = 's3://…'), interrupts it, and resumes
// it from S3: the filesystem sink holds every row exactly once.
func TestRunCheckpointsToS3(t *testing.T) {
	cfg := s3test.Config(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := fmt.Sprintf(`SET 'execution.checkpointing.interval' = '50 ms';
SET 'execution.checkpointing.dir' = 's3://%s/ckpt';
SET 's3.endpoint' = '%s';
SET 's3.path-style' = 'true';
SET 's3.access-key-id' = '%s';
SET 's3.secret-access-key' = '%s';
SET 'pipeline.name' = 'to-s3';
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '4000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3000');
CREATE TABLE snk (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
INSERT INTO snk SELECT id FROM src;
`, cfg.Bucket, cfg.Endpoint, cfg.AccessKeyID, cfg.SecretAccessKey, out)
	file := filepath.Join(dir, "p.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"run", file}, &stdout, &stderr); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr.String())
	}
	t.Logf("first run: %s", stderr.String())
	b, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := b.List(context.Background(), "ckpt/to-s3/")
	if err != nil {
		t.Fatal(err)
	}
	manifests := 0
	for _, k := range keys {
		if strings.HasSuffix(k, "/_manifest.json") {
			manifests++
		}
	}
	if manifests == 0 {
		t.Fatalf("no checkpoint manifest in s3://%s/ckpt/to-s3/: %v", cfg.Bucket, keys)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"run", file, "--resume"}, &stdout, &stderr); code != 0 {
		t.Fatalf("resumed run: exit %d: %s", code, stderr.String())
	}
	files, _ := filepath.Glob(filepath.Join(out, "part-*-*-*"))
	seen := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Fields(string(b)) {
			seen[l]++
		}
	}
	for i := 1; i <= 3000; i++ {
		if l := fmt.Sprintf(`{"id":%d}`, i); seen[l] != 1 {
			t.Fatalf("row %s written %d times", l, seen[l])
		}
	}
	if len(seen) != 3000 {
		t.Fatalf("%d distinct rows, want 3000", len(seen))
	}

	// A checkpoint directory flag cannot name a bucket: the script does.
	stderr.Reset()
	if code := run(context.Background(), []string{"run", file, "--checkpoint-dir", "s3://" + cfg.Bucket + "/x"}, &stdout, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "SET 'execution.checkpointing.dir'") {
		t.Fatalf("--checkpoint-dir s3://: exit %d: %s", code, stderr.String())
	}
}
