package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/state"
)

// balanced is the property Assign promises: counts within slots, all
// subtasks placed, and any member below its slots at most one fewer than
// any other member.
func balanced(a Assignment, ms []Member) error {
	count := map[string]int{}
	for _, s := range a.Subtasks {
		count[s.Worker]++
	}
	slots := map[string]int{}
	for _, m := range ms {
		slots[m.ID] = m.Slots
	}
	for w, n := range count {
		s, ok := slots[w]
		if !ok {
			return fmt.Errorf("subtasks on %q, not a member", w)
		}
		if n > s {
			return fmt.Errorf("%q has %d subtasks and %d slots", w, n, s)
		}
	}
	for _, a := range ms {
		for _, b := range ms {
			if count[a.ID] < a.Slots && count[b.ID] > count[a.ID]+1 {
				return fmt.Errorf("%q has %d subtasks (of %d slots) and %q %d", a.ID, count[a.ID], a.Slots, b.ID, count[b.ID])
			}
		}
	}
	return nil
}

// kept counts the key groups whose worker is the same in prev and next.
func kept(prev *Assignment, next Assignment) int {
	if prev == nil {
		return 0
	}
	owner := make([]string, next.MaxParallelism)
	for _, s := range prev.Subtasks {
		for kg := s.KeyGroups.Start; kg <= s.KeyGroups.End; kg++ {
			owner[kg] = s.Worker
		}
	}
	n := 0
	for _, s := range next.Subtasks {
		for kg := s.KeyGroups.Start; kg <= s.KeyGroups.End; kg++ {
			if owner[kg] == s.Worker {
				n++
			}
		}
	}
	return n
}

func randomMembers(r *rand.Rand, n, maxSlots int) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{ID: fmt.Sprintf("w%02d", r.IntN(40)), Slots: 1 + r.IntN(maxSlots)}
	}
	// unique ids
	seen := map[string]bool{}
	out := ms[:0]
	for _, m := range ms {
		if !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, m)
		}
	}
	return out
}

func totalSlots(ms []Member) int {
	t := 0
	for _, m := range ms {
		t += m.Slots
	}
	return t
}

// TestAssignProperties: over random memberships and histories (join,
// leave, slots changed, parallelism changed), every assignment is valid,
// balanced, independent of the members' order, and stable: assigning again
// to the same members moves nothing.
func TestAssignProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	for run := range 300 {
		maxP := 1 + r.IntN(300)
		p := 1 + r.IntN(min(maxP, 40))
		var prev *Assignment
		for step := range 8 {
			ms := randomMembers(r, 1+r.IntN(8), 6)
			if r.IntN(4) == 0 {
				p = 1 + r.IntN(min(maxP, 40))
			}
			a, err := Assign(prev, ms, p, maxP)
			if totalSlots(ms) < p {
				if !errors.Is(err, ErrInsufficientSlots) {
					t.Fatalf("run %d step %d: %d slots for parallelism %d: got %v, want ErrInsufficientSlots", run, step, totalSlots(ms), p, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("run %d step %d: %v", run, step, err)
			}
			if err := a.Validate(); err != nil {
				t.Fatalf("run %d step %d: %v", run, step, err)
			}
			if err := balanced(a, ms); err != nil {
				t.Fatalf("run %d step %d: not balanced: %v\n%+v", run, step, err, a)
			}
			for j, s := range a.Subtasks {
				if got := state.KeyGroupRangeFor(maxP, p, j); got.Start != s.KeyGroups.Start || got.End != s.KeyGroups.End {
					t.Fatalf("subtask %d: key groups %v, state says %v", j, s.KeyGroups, got)
				}
			}
			shuffled := append([]Member(nil), ms...)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			b, err := Assign(prev, shuffled, p, maxP)
			if err != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("run %d step %d: members in another order gave another assignment (%v):\n%+v\n%+v", run, step, err, a, b)
			}
			again, err := Assign(&a, ms, p, maxP)
			if err != nil {
				t.Fatal(err)
			}
			if k := kept(&a, again); k != maxP {
				t.Fatalf("run %d step %d: reassigning to the same members moved %d key groups", run, step, maxP-k)
			}
			if again.Attempt != a.Attempt+1 {
				t.Fatalf("attempt %d after %d", again.Attempt, a.Attempt)
			}
			prev = &a
		}
	}
}

// TestAssignMinimalMovement: for the same parallelism, Assign keeps as many
// key groups in place as the best balanced assignment found by trying
// every placement of the subtasks (small instances).
func TestAssignMinimalMovement(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	for run := range 400 {
		p := 1 + r.IntN(6)
		maxP := p + r.IntN(15)
		before := randomMembers(r, 1+r.IntN(4), 4)
		if totalSlots(before) < p {
			continue
		}
		prev, err := Assign(nil, before, p, maxP)
		if err != nil {
			t.Fatal(err)
		}
		// change the membership: drop, add, resize
		after := append([]Member(nil), before...)
		switch r.IntN(3) {
		case 0:
			if len(after) > 1 {
				i := r.IntN(len(after))
				after = append(after[:i], after[i+1:]...)
			}
		case 1:
			after = append(after, Member{ID: fmt.Sprintf("n%d", r.IntN(3)), Slots: 1 + r.IntN(4)})
		case 2:
			after[r.IntN(len(after))].Slots = 1 + r.IntN(4)
		}
		if totalSlots(after) < p {
			continue
		}
		next, err := Assign(&prev, after, p, maxP)
		if err != nil {
			t.Fatal(err)
		}
		if err := balanced(next, after); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		best := bestKept(&prev, after, p, maxP)
		if got := kept(&prev, next); got != best {
			t.Fatalf("run %d: kept %d key groups in place; the best balanced assignment keeps %d\nbefore %v %+v\nafter %v %+v", run, got, best, before, prev.Subtasks, after, next.Subtasks)
		}
	}
}

func bestKept(prev *Assignment, ms []Member, p, maxP int) int {
	best := -1
	place := make([]int, p)
	var try func(j int)
	try = func(j int) {
		if j == p {
			a := Assignment{Parallelism: p, MaxParallelism: maxP}
			for i, w := range place {
				a.Subtasks = append(a.Subtasks, SubtaskAssignment{Subtask: i, Worker: ms[w].ID, KeyGroups: KeyGroupRangeFor(maxP, p, i)})
			}
			if balanced(a, ms) == nil {
				best = max(best, kept(prev, a))
			}
			return
		}
		for w := range ms {
			place[j] = w
			try(j + 1)
		}
	}
	try(0)
	return best
}

func TestAssignRefusals(t *testing.T) {
	for _, c := range []struct {
		ms      []Member
		p, maxP int
		want    string
	}{
		{[]Member{{ID: "a", Slots: 2}}, 3, 128, "job parallelism 3 needs 3 slots; the 1 members have 2"},
		{nil, 1, 128, "no members"},
		{[]Member{{ID: "a", Slots: 2}}, 0, 128, "parallelism 0 must be at least 1"},
		{[]Member{{ID: "a", Slots: 2}}, 2, 1, "max parallelism 1 must be between the parallelism 2 and 32768"},
		{[]Member{{ID: "a", Slots: 0}}, 1, 128, `member "a" has 0 slots; it needs at least 1`},
		{[]Member{{ID: "a", Slots: 1}, {ID: "a", Slots: 1}}, 1, 128, `member "a" listed twice`},
		{[]Member{{ID: "a/b", Slots: 1}}, 1, 128, `member id "a/b" contains '/'`},
	} {
		_, err := Assign(nil, c.ms, c.p, c.maxP)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Assign(%v, %d, %d) = %v, want an error with %q", c.ms, c.p, c.maxP, err, c.want)
		}
	}
}
