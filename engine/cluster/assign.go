package cluster

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
)

// maxMaxParallelism bounds the key groups, as state.MaxMaxParallelism.
const maxMaxParallelism = 1 << 15

// KeyGroupRangeFor returns the key groups of subtask index of parallelism
// out of maxParallelism: the same contiguous, nearly equal split as
// state.KeyGroupRangeFor (this package does not import state; a test
// checks that the two agree).
func KeyGroupRangeFor(maxParallelism, parallelism, index int) KeyGroupRange {
	start := (index*maxParallelism + parallelism - 1) / parallelism
	end := ((index+1)*maxParallelism - 1) / parallelism
	return KeyGroupRange{Start: start, End: end}
}

// Assign places the job's parallelism subtasks (and their key-group
// ranges out of maxParallelism) on members, for the attempt after prev
// (nil: the first attempt). It is a pure function: the same members (in
// any order), parallelism and previous assignment give the same result.
//
// Balanced: no member gets more subtasks than it has slots, and any member
// below its slots has at most one subtask fewer than any other member —
// the subtasks are spread as evenly as the slots allow.
//
// Minimal movement: among the balanced assignments it picks one that keeps
// the most key groups on the worker that held them in prev (for the same
// parallelism this is exact: a subtask stays where it was unless its
// worker left or must give subtasks up to rebalance; when the parallelism
// changes it is a greedy choice by overlap; when the max parallelism
// changes nothing is kept, as key groups are renumbered). The result's Attempt is
// prev's plus one; its Token is left for the leader to set.
func Assign(prev *Assignment, members []Member, parallelism, maxParallelism int) (Assignment, error) {
	if parallelism < 1 {
		return Assignment{}, fmt.Errorf("cluster: parallelism %d must be at least 1", parallelism)
	}
	if maxParallelism < parallelism || maxParallelism > maxMaxParallelism {
		return Assignment{}, fmt.Errorf("cluster: max parallelism %d must be between the parallelism %d and %d", maxParallelism, parallelism, maxMaxParallelism)
	}
	if len(members) == 0 {
		return Assignment{}, fmt.Errorf("cluster: job parallelism %d: no members: %w", parallelism, ErrInsufficientSlots)
	}
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	total := 0
	index := make(map[string]int, len(ms))
	for i, m := range ms {
		if err := m.Validate(); err != nil {
			return Assignment{}, err
		}
		if i > 0 && ms[i-1].ID == m.ID {
			return Assignment{}, fmt.Errorf("cluster: member %q listed twice", m.ID)
		}
		index[m.ID] = i
		total += m.Slots
	}
	if total < parallelism {
		return Assignment{}, fmt.Errorf("cluster: job parallelism %d needs %d slots; the %d members have %d: %w", parallelism, parallelism, len(ms), total, ErrInsufficientSlots)
	}

	// owner[kg]: the member that held key group kg in prev, or -1.
	owner := make([]int, maxParallelism)
	for i := range owner {
		owner[i] = -1
	}
	if prev != nil && prev.MaxParallelism == maxParallelism {
		for _, s := range prev.Subtasks {
			w, ok := index[s.Worker]
			if !ok {
				continue
			}
			for kg := max(0, s.KeyGroups.Start); kg <= s.KeyGroups.End && kg < maxParallelism; kg++ {
				owner[kg] = w
			}
		}
	}
	// overlap[j]: key groups of new subtask j held by each member before.
	type hold struct{ subtask, worker, n int }
	var holds []hold
	ranges := make([]KeyGroupRange, parallelism)
	gains := make([][]int, len(ms)) // per member, its overlaps
	for j := range parallelism {
		r := KeyGroupRangeFor(maxParallelism, parallelism, j)
		ranges[j] = r
		count := map[int]int{}
		for kg := r.Start; kg <= r.End; kg++ {
			if w := owner[kg]; w >= 0 {
				count[w]++
			}
		}
		for w, n := range count {
			holds = append(holds, hold{j, w, n})
			gains[w] = append(gains[w], n)
		}
	}

	// Quotas: a level L filled up to each member's slots, and the r
	// subtasks left over to r of the members with room above L — those
	// that keep the most key groups by taking one more.
	level := sort.Search(parallelism+1, func(l int) bool {
		sum := 0
		for _, m := range ms {
			sum += min(m.Slots, l)
		}
		return sum > parallelism
	}) - 1
	quota := make([]int, len(ms))
	left := parallelism
	var room []int
	for i, m := range ms {
		quota[i] = min(m.Slots, level)
		left -= quota[i]
		if m.Slots > level {
			room = append(room, i)
		}
	}
	gain := make([]int, len(ms)) // the key groups kept by one subtask more
	for _, w := range room {
		g := gains[w]
		slices.SortFunc(g, func(a, b int) int { return b - a })
		if level < len(g) {
			gain[w] = g[level]
		}
	}
	slices.SortStableFunc(room, func(a, b int) int { return cmp.Compare(gain[b], gain[a]) })
	for _, w := range room[:left] {
		quota[w]++
	}

	// Keep what can stay, largest holdings first; place the rest in order.
	slices.SortFunc(holds, func(a, b hold) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		if c := cmp.Compare(a.subtask, b.subtask); c != 0 {
			return c
		}
		return cmp.Compare(a.worker, b.worker)
	})
	worker := make([]int, parallelism)
	for j := range worker {
		worker[j] = -1
	}
	used := make([]int, len(ms))
	for _, h := range holds {
		if worker[h.subtask] < 0 && used[h.worker] < quota[h.worker] {
			worker[h.subtask] = h.worker
			used[h.worker]++
		}
	}
	next := 0
	for j := range worker {
		if worker[j] >= 0 {
			continue
		}
		for used[next] >= quota[next] {
			next++
		}
		worker[j] = next
		used[next]++
	}

	a := Assignment{Attempt: 1, Parallelism: parallelism, MaxParallelism: maxParallelism, Subtasks: make([]SubtaskAssignment, parallelism)}
	if prev != nil {
		a.Attempt = prev.Attempt + 1
	}
	for j := range worker {
		a.Subtasks[j] = SubtaskAssignment{Subtask: j, Worker: ms[worker[j]].ID, KeyGroups: ranges[j]}
	}
	return a, nil
}

// Validate reports an assignment that does not place each subtask once
// with its key groups on a listed member.
func (a Assignment) Validate() error {
	if a.Parallelism < 1 || a.MaxParallelism < a.Parallelism || a.MaxParallelism > maxMaxParallelism {
		return fmt.Errorf("cluster: assignment of attempt %d: parallelism %d, max parallelism %d out of range", a.Attempt, a.Parallelism, a.MaxParallelism)
	}
	if len(a.Subtasks) != a.Parallelism {
		return fmt.Errorf("cluster: assignment of attempt %d places %d subtasks; the parallelism is %d", a.Attempt, len(a.Subtasks), a.Parallelism)
	}
	for i, s := range a.Subtasks {
		if s.Subtask != i {
			return fmt.Errorf("cluster: assignment of attempt %d: entry %d is subtask %d", a.Attempt, i, s.Subtask)
		}
		if s.Worker == "" {
			return fmt.Errorf("cluster: assignment of attempt %d: subtask %d has no worker", a.Attempt, i)
		}
		if want := KeyGroupRangeFor(a.MaxParallelism, a.Parallelism, i); s.KeyGroups != want {
			return fmt.Errorf("cluster: assignment of attempt %d: subtask %d owns key groups %s, not %s", a.Attempt, i, s.KeyGroups, want)
		}
	}
	return nil
}
