package statebench

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
)

func TestKeyedCountRecovers(t *testing.T) {
	res, err := KeyedCount(context.Background(), 2_000_000, 1000, engine.Config{Parallelism: 2,
		Checkpoint: engine.CheckpointConfig{Interval: 20 * time.Millisecond, Dir: t.TempDir()},
		Restart:    engine.FixedDelay(3, 0)}, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if res.Restarts != 1 || res.Recovery <= 0 || res.Checkpoints == 0 {
		t.Fatalf("%+v", res)
	}
}
