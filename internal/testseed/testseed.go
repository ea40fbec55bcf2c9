// Package testseed gives randomised tests their seed: the value of
// SLUICE_SEED when it is set (to replay a failure), else one from the
// clock. The seed is logged, so that a failing run says how to replay it.
package testseed

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Seed returns the test's seed and logs it.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SLUICE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SLUICE_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with SLUICE_SEED=%d)", seed, seed)
	return seed
}
