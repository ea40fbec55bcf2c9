package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestCancelIsNeverLost: Cancel right after Start (before the first
// attempt is set up) and during a restart delay ends the job promptly with
// ErrJobCancelled; before, both were lost and the job ran on.
func TestCancelIsNeverLost(t *testing.T) {
	t.Run("before the first attempt", func(t *testing.T) {
		for range 20 {
			j := NewJob("cancel", Config{})
			Collect(SourceOf[int](j, "forever", funcSource(func(ctx context.Context) error {
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
				return nil
			}), WatermarkStrategy[int]{}), "sink")
			r, err := j.Start(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r.Cancel()
			waitCancelled(t, r)
		}
	})
	t.Run("during a restart delay", func(t *testing.T) {
		clk := NewManualClock(time.Unix(0, 0))
		failed := make(chan struct{}, 1)
		j := NewJob("cancel", Config{Clock: clk, Restart: FixedDelay(3, time.Hour)})
		Collect(SourceOf[int](j, "fails", funcSource(func(context.Context) error {
			select {
			case failed <- struct{}{}:
			default:
			}
			return errors.New("boom")
		}), WatermarkStrategy[int]{}), "sink")
		r, err := j.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		<-failed
		for clk.Pending() == 0 { // the restart delay's timer
			time.Sleep(time.Millisecond)
		}
		r.Cancel()
		waitCancelled(t, r)
	})
}

// funcSource is a source whose every subtask's Read is read.
type funcSource func(ctx context.Context) error

func (f funcSource) Open(context.Context, SourceInfo) (SourceReader[int], error) {
	return funcReader(f), nil
}

type funcReader func(ctx context.Context) error

func (f funcReader) Read(ctx context.Context, _ *SourceOutput[int]) error { return f(ctx) }
func (f funcReader) Close() error                                         { return nil }

func waitCancelled(t *testing.T, r *Running) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Wait() }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrJobCancelled) {
			t.Fatalf("Wait = %v, want ErrJobCancelled", err)
		}
		if strings.Count(err.Error(), ErrJobCancelled.Error()) != 1 {
			t.Fatalf("Wait = %q: the cancellation said more than once", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled job did not end")
	}
}
