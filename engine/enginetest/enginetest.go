// Package enginetest holds what the exactly-once tests of every package
// share: a failure injector that fails chosen calls once each across a
// job's restarts, and the checker that a committed output holds every
// expected record exactly once. Package conformance builds on it with the
// suites every source and every two-phase-commit sink runs.
//
// It imports nothing of the engine, so that the engine's own tests use it
// too.
package enginetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
)

// Injector fails the n-th call of Fail for each chosen n, once each,
// however often the job restarts (its counter lives outside the job).
// Optionally it only counts once armed — e.g. after the first completed
// checkpoint, so that every failure exercises a restore. It is safe for
// concurrent use.
type Injector struct {
	points []int64
	calls  atomic.Int64
	fired  atomic.Int64
	armed  atomic.Bool
	manual bool
}

// NewInjector fails the calls numbered points (1-based).
func NewInjector(points ...int64) *Injector {
	p := slices.Clone(points)
	slices.Sort(p)
	return &Injector{points: p}
}

// RandomInjector fails n calls drawn uniformly from [1, total].
func RandomInjector(rng *rand.Rand, total int64, n int) *Injector {
	pts := make([]int64, n)
	for i := range pts {
		pts[i] = 1 + rng.Int64N(max(total, 1))
	}
	return NewInjector(pts...)
}

// ArmLater makes the injector ignore calls until Arm.
func (in *Injector) ArmLater() *Injector { in.manual = true; return in }

// Arm starts counting calls (after ArmLater).
func (in *Injector) Arm() { in.armed.Store(true) }

// Fail returns an error at the chosen calls and nil otherwise.
func (in *Injector) Fail() error {
	if in.manual && !in.armed.Load() {
		return nil
	}
	c := in.calls.Add(1)
	if _, ok := slices.BinarySearch(in.points, c); ok {
		in.fired.Add(1)
		return fmt.Errorf("injected failure at call %d", c)
	}
	return nil
}

// Panic panics at the chosen calls: a panicking user function is a task
// failure too.
func (in *Injector) Panic() {
	if err := in.Fail(); err != nil {
		panic(err)
	}
}

// Points returns the chosen call numbers.
func (in *Injector) Points() []int64 { return slices.Clone(in.points) }

// Fired returns how many failures have fired.
func (in *Injector) Fired() int { return int(in.fired.Load()) }

// Calls returns how many calls were counted.
func (in *Injector) Calls() int64 { return in.calls.Load() }

// CheckExactlyOnce fails t unless got holds every key of want exactly as
// often as want says, and nothing else. key maps a committed value to its
// identity (often the value itself, or fmt.Sprint of it). seed is the
// test's seed, repeated in every message so that the failure can be
// replayed (SLUICE_SEED).
func CheckExactlyOnce[T any, K comparable](t testing.TB, seed uint64, got []T, key func(T) K, want map[K]int) {
	t.Helper()
	have := make(map[K]int, len(want))
	for _, g := range got {
		have[key(g)]++
	}
	var missing, dup, extra int
	var example string
	for k, n := range want {
		switch h := have[k]; {
		case h < n:
			missing += n - h
			if example == "" {
				example = fmt.Sprintf("%v committed %d times, want %d", k, h, n)
			}
		case h > n:
			dup += h - n
			if example == "" {
				example = fmt.Sprintf("%v committed %d times, want %d", k, h, n)
			}
		}
	}
	for k, h := range have {
		if _, ok := want[k]; !ok {
			extra += h
			if example == "" {
				example = fmt.Sprintf("%v committed but not expected", k)
			}
		}
	}
	if missing+dup+extra > 0 {
		t.Fatalf("seed %d: not exactly once: %d missing, %d duplicated, %d unexpected of %d committed (want %d); e.g. %s",
			seed, missing, dup, extra, len(got), total(want), example)
	}
}

func total[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
