package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestManualTimersFireInOrderOnAdvance(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewManual(start)
	t3 := m.NewTimer(3 * time.Second)
	t1 := m.NewTimer(1 * time.Second)
	t2 := m.NewTimer(2 * time.Second)
	if m.Pending() != 3 {
		t.Fatalf("pending = %d, want 3", m.Pending())
	}
	m.Advance(1500 * time.Millisecond)
	select {
	case got := <-t1.C():
		if !got.Equal(start.Add(time.Second)) {
			t.Fatalf("t1 fired with %v", got)
		}
	default:
		t.Fatal("t1 did not fire")
	}
	select {
	case <-t2.C():
		t.Fatal("t2 fired early")
	default:
	}
	if !t3.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	m.Advance(10 * time.Second)
	select {
	case <-t2.C():
	default:
		t.Fatal("t2 did not fire")
	}
	select {
	case <-t3.C():
		t.Fatal("stopped timer fired")
	default:
	}
	if got, want := m.Now(), start.Add(11500*time.Millisecond); !got.Equal(want) {
		t.Fatalf("now = %v, want %v", got, want)
	}
}

func TestManualResetAndNegative(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	tm := m.NewTimer(time.Hour)
	if !tm.Reset(time.Second) {
		t.Fatal("Reset of an active timer should report true")
	}
	m.Advance(time.Second)
	<-tm.C()
	if tm.Stop() {
		t.Fatal("Stop after firing should report false")
	}
	now := m.NewTimer(-time.Second)
	select {
	case <-now.C():
	default:
		t.Fatal("timer with negative duration should fire at once")
	}
	m.Set(time.Unix(-5, 0)) // backwards: ignored
	if m.Now().Unix() != 1 {
		t.Fatalf("clock moved backwards to %v", m.Now())
	}
}

func TestAutoAdvance(t *testing.T) {
	start := time.Unix(100, 0)
	m := NewManual(start)
	other := m.NewTimer(3 * time.Second)
	m.AutoAdvance(true)
	if err := Sleep(context.Background(), m, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := m.Now(); !got.Equal(start.Add(5 * time.Second)) {
		t.Fatalf("now = %v, want start+5s", got)
	}
	select {
	case at := <-other.C():
		if !at.Equal(start.Add(3 * time.Second)) {
			t.Fatalf("earlier timer fired at %v", at)
		}
	default:
		t.Fatal("the timer due on the way did not fire")
	}
}

func TestSleepCancelled(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	ctx, cancel := context.WithCancelCause(context.Background())
	want := errors.New("stop")
	cancel(want)
	if err := Sleep(ctx, m, time.Hour); !errors.Is(err, want) {
		t.Fatalf("Sleep = %v, want the context's cause", err)
	}
	if m.Pending() != 0 {
		t.Fatalf("%d timers left behind", m.Pending())
	}
}
