package firehose

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestRunDeliversByInterval uses the real clock: Run must deliver a buffer
// once its one-second interval has passed, without any further Put.
func TestRunDeliversByInterval(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	s, err := New(context.Background(), Config{Name: "run", Directory: &DirectoryConfig{Path: out},
		Buffering: BufferingHints{IntervalInSeconds: Seconds(1)}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if err := s.Put(context.Background(), rec("x")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(files(t, out)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(files(t, out)); n != 1 {
		t.Fatalf("%d objects after the interval", n)
	}
}
