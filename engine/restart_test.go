package engine

import (
	"testing"
	"time"
)

func TestRestartDelays(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *RestartStrategy
		want []time.Duration // per restart; past the end: refused
	}{
		{"none", NoRestart(), nil},
		{"fixed", FixedDelay(3, time.Second), []time.Duration{time.Second, time.Second, time.Second}},
		{"exponential", ExponentialBackoff(5, time.Second, 10*time.Second, 3), []time.Duration{time.Second, 3 * time.Second, 9 * time.Second, 10 * time.Second, 10 * time.Second}},
		{"default cap", &RestartStrategy{MaxAttempts: 20, Delay: time.Second, BackoffMultiplier: 10}, []time.Duration{time.Second, 10 * time.Second, 100 * time.Second, 5 * time.Minute}},
	} {
		for i, w := range tc.want {
			d, ok := tc.r.delay(i + 1)
			if !ok || d != w {
				t.Errorf("%s: restart %d: %v %v, want %v", tc.name, i+1, d, ok, w)
			}
		}
		if tc.r.MaxAttempts == len(tc.want) {
			if _, ok := tc.r.delay(len(tc.want) + 1); ok {
				t.Errorf("%s: restart %d allowed beyond MaxAttempts", tc.name, len(tc.want)+1)
			}
		}
	}
}
