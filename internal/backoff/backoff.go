// Package backoff is the one retry policy of Sluice: how long to wait before
// each retry (fixed or exponential, capped, optionally jittered) and when to
// give up (after a number of attempts or a total time), with waits on an
// internal/clock Clock so that tests drive them.
//
// The engine's restart strategy, the log sink's throttled puts and Firehose's
// delivery retries each express their policy as a Policy; Retry runs the
// loop for the last two, Delay gives the engine its wait per restart.
package backoff

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// Policy says how long to wait before each retry and when to stop.
type Policy struct {
	// Initial is the wait before the first retry.
	Initial time.Duration
	// Multiplier > 1 multiplies the wait after each retry (exponential
	// backoff); otherwise every wait is Initial.
	Multiplier float64
	// Max caps the wait; zero: no cap.
	Max time.Duration
	// Jitter draws each wait uniformly from [d/2, d] instead of d, so that
	// many clients throttled together do not retry in step.
	Jitter bool
	// MaxAttempts bounds the calls of an operation (the first included);
	// zero: no bound.
	MaxAttempts int
	// Within bounds the time from the first call after which no retry
	// starts; zero: no bound.
	Within time.Duration
}

// Validate reports a policy that cannot work.
func (p Policy) Validate() error {
	switch {
	case p.Initial < 0 || p.Max < 0 || p.Within < 0:
		return errors.New("backoff: negative duration")
	case p.MaxAttempts < 0:
		return fmt.Errorf("backoff: attempts %d must not be negative", p.MaxAttempts)
	case p.Multiplier != 0 && p.Multiplier < 1:
		return fmt.Errorf("backoff: multiplier %g must be at least 1", p.Multiplier)
	}
	return nil
}

// Delay returns the wait before retry n (1-based), without jitter.
func (p Policy) Delay(n int) time.Duration {
	d := p.Initial
	if p.Multiplier > 1 {
		for i := 1; i < n && (p.Max == 0 || d < p.Max); i++ {
			next := time.Duration(float64(d) * p.Multiplier)
			if next < d { // overflow
				next = time.Duration(1<<63 - 1)
			}
			d = next
		}
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	return d
}

// Wait returns the wait before retry n (1-based), jittered if the policy
// says so: what Retry sleeps, for loops that retry in their own way (a
// batch whose failed part shrinks, say).
func (p Policy) Wait(n int) time.Duration {
	d := p.Delay(n)
	if p.Jitter && d > 1 {
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	}
	return d
}

// Permanent marks an error that no retry can fix: Retry returns it at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Retry calls op until it returns nil, returns an error marked Permanent,
// the policy gives up, or ctx ends; it waits on c between calls. It returns
// the number of calls and the last error (a Permanent one unwrapped, ctx's
// error joined to the operation's when ctx ended a wait). op is called on
// Retry's goroutine; attempt is 1-based.
func Retry(ctx context.Context, c clock.Clock, p Policy, op func(attempt int) error) (attempts int, err error) {
	start := c.Now()
	for {
		attempts++
		err = op(attempts)
		if err == nil {
			return attempts, nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return attempts, perm.err
		}
		if ctx.Err() != nil {
			return attempts, err
		}
		if p.MaxAttempts > 0 && attempts >= p.MaxAttempts {
			return attempts, err
		}
		if p.Within > 0 && c.Now().Sub(start) >= p.Within {
			return attempts, err
		}
		if serr := clock.Sleep(ctx, c, p.Wait(attempts)); serr != nil {
			return attempts, errors.Join(err, serr)
		}
	}
}
