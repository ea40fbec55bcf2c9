package planner

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/s3/s3checkpoint"
	"github.com/sluicehq/sluice/engine"
)

func planWith(t *testing.T, sets string) *Program {
	t.Helper()
	p, err := Plan(sets + `
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
CREATE TABLE snk (id BIGINT) WITH ('connector' = 'print');
INSERT INTO snk SELECT id FROM src;`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestCheckpointDirSettings(t *testing.T) {
	if st, err := planWith(t, "").CheckpointStorage("j"); st != nil || err != nil {
		t.Fatalf("no SET: %v, %v", st, err)
	}
	st, err := planWith(t, "SET 'state.checkpoints.dir' = 'file:///tmp/ck';").CheckpointStorage("a b")
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := st.(engine.LocalStorage); !ok || l.Dir != filepath.Join("/tmp/ck", "a_b") {
		t.Fatalf("local: %#v", st)
	}
	st, err = planWith(t, "SET 'execution.checkpointing.dir' = 's3://bkt/base/'; SET 's3.path-style' = 'true'; SET 'execution.checkpointing.num-retained' = '5';").CheckpointStorage("job#2")
	if _, ok := st.(*s3checkpoint.Storage); !ok || err != nil {
		t.Fatalf("s3: %#v, %v", st, err)
	}
	for _, c := range []struct{ sets, want string }{
		{"SET 'execution.checkpointing.dir' = 'hdfs://nn/ck';", "scheme 'hdfs' is not supported"},
		{"SET 'execution.checkpointing.dir' = 's3:///ck';", "names no bucket"},
		{"SET 'execution.checkpointing.dir' = 's3://b/ck'; SET 's3.path-style' = 'yes';", "SET 's3.path-style' = 'yes': want 'true' or 'false'"},
		{"SET 'execution.checkpointing.dir' = 's3://b/ck'; SET 's3.access-key-id' = 'k';", "go together"},
	} {
		_, err := planWith(t, c.sets).CheckpointStorage("j")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.sets, err, c.want)
		}
	}
	if _, err := planWith(t, "SET 'state.checkpoints.num-retained' = '0';").Config(); err == nil || !strings.Contains(err.Error(), "want a positive integer") {
		t.Errorf("num-retained 0: %v", err)
	}
	cfg, err := planWith(t, "SET 'execution.checkpointing.num-retained' = '5';").Config()
	if err != nil || cfg.Checkpoint.Retain != 5 {
		t.Errorf("num-retained 5: %d, %v", cfg.Checkpoint.Retain, err)
	}
}
