package enginetest

import (
	"fmt"
	"sync"
	"testing"
)

func TestInjectorFailsChosenCallsOnce(t *testing.T) {
	in := NewInjector(3, 5)
	var failed []int
	for i := 1; i <= 10; i++ {
		if in.Fail() != nil {
			failed = append(failed, i)
		}
	}
	if fmt.Sprint(failed) != "[3 5]" || in.Fired() != 2 || in.Calls() != 10 {
		t.Fatalf("failed at %v, fired %d, calls %d", failed, in.Fired(), in.Calls())
	}
	late := NewInjector(1).ArmLater()
	if late.Fail() != nil || late.Calls() != 0 {
		t.Fatal("an unarmed injector counted")
	}
	late.Arm()
	if late.Fail() == nil {
		t.Fatal("the armed injector did not fail its first call")
	}
}

func TestInjectorConcurrent(t *testing.T) {
	in := NewInjector(10, 20, 30)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				_ = in.Fail()
			}
		}()
	}
	wg.Wait()
	if in.Fired() != 3 {
		t.Fatalf("fired %d, want 3", in.Fired())
	}
}

type fakeT struct {
	testing.TB
	msg string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

func TestCheckExactlyOnce(t *testing.T) {
	id := func(s string) string { return s }
	want := map[string]int{"a": 1, "b": 2}
	for _, tc := range []struct {
		got  []string
		fail bool
	}{
		{[]string{"a", "b", "b"}, false},
		{[]string{"b", "a", "b"}, false},
		{[]string{"a", "b"}, true},
		{[]string{"a", "a", "b", "b"}, true},
		{[]string{"a", "b", "b", "c"}, true},
	} {
		f := &fakeT{TB: t}
		CheckExactlyOnce(f, 1, tc.got, id, want)
		if (f.msg != "") != tc.fail {
			t.Errorf("%v: failed=%v (%s), want failed=%v", tc.got, f.msg != "", f.msg, tc.fail)
		}
	}
}
