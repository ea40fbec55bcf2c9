package firehose

import (
	"testing"
	"time"
)

func TestCoreSizeAndInterval(t *testing.T) {
	c := NewCore(10, time.Minute, 0)
	if full, _ := c.Add(t0, Keys{}, Record{Data: []byte("12345"), ArrivalTime: t0.Add(-time.Hour)}); full != nil {
		t.Fatal("delivered before the size hint")
	}
	if d, ok := c.NextDeadline(); !ok || !d.Equal(t0.Add(time.Minute)) {
		t.Fatalf("NextDeadline = %v %v", d, ok)
	}
	full, _ := c.Add(t0.Add(time.Second), Keys{}, Record{Data: []byte("67890"), ArrivalTime: t0.Add(-2 * time.Hour)})
	if full == nil || len(full.Records) != 2 || full.Bytes != 10 || !full.Oldest.Equal(t0.Add(-2*time.Hour)) || !full.Opened.Equal(t0) {
		t.Fatalf("size hint: %+v", full)
	}
	if c.Active() != 0 {
		t.Fatal("a delivered buffer stays active")
	}
	c.Add(t0, Keys{}, rec("a"))
	if due := c.Due(t0.Add(59 * time.Second)); len(due) != 0 {
		t.Fatal("due before the interval")
	}
	if due := c.Due(t0.Add(time.Minute)); len(due) != 1 {
		t.Fatal("not due at the interval")
	}
}

func TestCoreZeroInterval(t *testing.T) {
	c := NewCore(1<<20, 0, 0)
	c.Add(t0, Keys{}, rec("a"))
	c.Add(t0, Keys{}, rec("b"))
	due := c.Due(t0)
	if len(due) != 1 || len(due[0].Records) != 2 {
		t.Fatalf("zero interval: %d buffers", len(due))
	}
}

func TestCorePartitions(t *testing.T) {
	c := NewCore(1<<20, time.Minute, 2)
	ka := Keys{Query: map[string]string{"k": "a"}}
	kb := Keys{Query: map[string]string{"k": "b"}}
	kc := Keys{Query: map[string]string{"k": "c"}}
	c.Add(t0, ka, rec("1"))
	c.Add(t0.Add(time.Second), kb, rec("2"))
	if _, over := c.Add(t0, ka, rec("3")); over {
		t.Fatal("an existing partition overflowed")
	}
	if _, over := c.Add(t0, kc, rec("4")); !over {
		t.Fatal("a third partition was accepted with a limit of 2")
	}
	if c.Buffered() != 3 {
		t.Fatalf("buffered %d", c.Buffered())
	}
	d := c.Drain()
	if len(d) != 2 || d[0].Keys.Query["k"] != "a" || len(d[0].Records) != 2 {
		t.Fatalf("drain: %+v", d)
	}
	if _, over := c.Add(t0, kc, rec("4")); over {
		t.Fatal("limit not freed by delivery")
	}
}
