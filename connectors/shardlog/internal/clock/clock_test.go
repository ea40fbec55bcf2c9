package clock

import (
	"testing"
	"time"
)

func TestFakeTimers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(t0)
	a, _ := f.After(5 * time.Second)
	b, stopB := f.After(10 * time.Second)
	c, _ := f.After(0)
	select {
	case <-c:
	default:
		t.Fatal("a zero-duration timer must fire at once")
	}
	if f.Pending() != 2 {
		t.Fatalf("pending %d", f.Pending())
	}
	f.Advance(4 * time.Second)
	select {
	case <-a:
		t.Fatal("fired early")
	default:
	}
	f.Advance(time.Second)
	if got := <-a; !got.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("fired with %v", got)
	}
	stopB()
	f.Advance(time.Hour)
	select {
	case <-b:
		t.Fatal("stopped timer fired")
	default:
	}
	if f.Pending() != 0 || !f.Now().Equal(t0.Add(time.Hour+5*time.Second)) {
		t.Fatalf("pending %d now %v", f.Pending(), f.Now())
	}
	var r Real
	ch, stop := r.After(time.Millisecond)
	<-ch
	stop()
}
