package backoff

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

func TestDelay(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want []time.Duration
	}{
		{Policy{Initial: time.Second}, []time.Duration{time.Second, time.Second, time.Second}},
		{Policy{Initial: time.Second, Multiplier: 2, Max: 5 * time.Second}, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}},
		{Policy{Initial: 10 * time.Millisecond, Multiplier: 1.5}, []time.Duration{10 * time.Millisecond, 15 * time.Millisecond, 22500 * time.Microsecond}},
		{Policy{Initial: time.Hour, Multiplier: 1000}, nil}, // overflow must not go negative
	} {
		for i, w := range tc.want {
			if got := tc.p.Delay(i + 1); got != w {
				t.Errorf("%+v: Delay(%d) = %v, want %v", tc.p, i+1, got, w)
			}
		}
		for n := 1; n < 100; n++ {
			if d := tc.p.Delay(n); d < 0 {
				t.Fatalf("%+v: Delay(%d) = %v", tc.p, n, d)
			}
		}
	}
}

func TestJitterStaysInHalfToFull(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Jitter: true}
	for range 1000 {
		if d := p.Wait(1); d < 50*time.Millisecond || d > 100*time.Millisecond {
			t.Fatalf("jittered wait %v outside [50ms, 100ms]", d)
		}
	}
}

func TestRetryAttemptsAndWaits(t *testing.T) {
	c := clock.NewManual(time.Unix(0, 0))
	c.AutoAdvance(true)
	fail := errors.New("busy")
	var at []time.Duration
	n, err := Retry(context.Background(), c, Policy{Initial: time.Second, Multiplier: 2, MaxAttempts: 4}, func(int) error {
		at = append(at, c.Now().Sub(time.Unix(0, 0)))
		return fail
	})
	if n != 4 || !errors.Is(err, fail) {
		t.Fatalf("Retry = %d, %v", n, err)
	}
	want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
	for i := range want {
		if at[i] != want[i] {
			t.Fatalf("calls at %v, want %v", at, want)
		}
	}
}

func TestRetryWithinAndSuccess(t *testing.T) {
	c := clock.NewManual(time.Unix(0, 0))
	c.AutoAdvance(true)
	n, err := Retry(context.Background(), c, Policy{Initial: time.Second, Within: 10 * time.Second}, func(int) error {
		return errors.New("down")
	})
	if n != 11 || err == nil {
		t.Fatalf("Within 10s with 1s waits: %d calls, %v; want 11 and an error", n, err)
	}
	n, err = Retry(context.Background(), c, Policy{Initial: time.Second}, func(a int) error {
		if a < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 || err != nil {
		t.Fatalf("success on the third call: %d, %v", n, err)
	}
}

func TestRetryPermanentAndCancel(t *testing.T) {
	c := clock.NewManual(time.Unix(0, 0))
	c.AutoAdvance(true)
	bad := errors.New("refused")
	n, err := Retry(context.Background(), c, Policy{Initial: time.Second}, func(int) error { return Permanent(bad) })
	if n != 1 || err != bad {
		t.Fatalf("permanent: %d, %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	manual := clock.NewManual(time.Unix(0, 0)) // no auto-advance: the wait blocks
	done := make(chan error, 1)
	go func() {
		_, err := Retry(ctx, manual, Policy{Initial: time.Hour}, func(int) error { return errors.New("x") })
		done <- err
	}()
	for manual.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if (Policy{Multiplier: 0.5}).Validate() == nil || (Policy{Initial: -1}).Validate() == nil {
		t.Fatal("Validate accepts a bad policy")
	}
	if !IsPermanent(Permanent(bad)) || IsPermanent(bad) || Permanent(nil) != nil {
		t.Fatal("IsPermanent")
	}
}
