package engine

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/backoff"
)

// RestartStrategy says whether a failed job restarts from its latest
// completed checkpoint (or from the start when there is none) and after
// how long. The zero value never restarts.
type RestartStrategy struct {
	// MaxAttempts is how many restarts are allowed; zero: none.
	MaxAttempts int
	// Delay before the first restart.
	Delay time.Duration
	// BackoffMultiplier > 1 multiplies the delay after each restart
	// (exponential backoff), up to MaxDelay.
	BackoffMultiplier float64
	// MaxDelay caps the delay of exponential backoff. Default 5 minutes.
	MaxDelay time.Duration
	// ResetAfter, if set, forgets earlier failures once the job has run
	// this long without failing, so that a long-running job is not stopped
	// by failures spread over months.
	ResetAfter time.Duration
}

// FixedDelay restarts up to attempts times, waiting delay each time.
func FixedDelay(attempts int, delay time.Duration) *RestartStrategy {
	return &RestartStrategy{MaxAttempts: attempts, Delay: delay}
}

// ExponentialBackoff restarts up to attempts times, waiting initial, then
// multiplying the wait by multiplier up to max.
func ExponentialBackoff(attempts int, initial, max time.Duration, multiplier float64) *RestartStrategy {
	return &RestartStrategy{MaxAttempts: attempts, Delay: initial, MaxDelay: max, BackoffMultiplier: multiplier}
}

// NoRestart never restarts.
func NoRestart() *RestartStrategy { return &RestartStrategy{} }

func (r *RestartStrategy) validate() error {
	switch {
	case r.MaxAttempts < 0:
		return fmt.Errorf("%w: restart attempts %d must not be negative", ErrInvalidJob, r.MaxAttempts)
	case r.Delay < 0 || r.MaxDelay < 0 || r.ResetAfter < 0:
		return fmt.Errorf("%w: negative restart delay", ErrInvalidJob)
	case r.BackoffMultiplier != 0 && r.BackoffMultiplier < 1:
		return fmt.Errorf("%w: backoff multiplier %g must be at least 1", ErrInvalidJob, r.BackoffMultiplier)
	}
	return nil
}

// delay returns the wait before restart number n (1-based) and whether
// that restart is allowed.
func (r *RestartStrategy) delay(n int) (time.Duration, bool) {
	if n > r.MaxAttempts {
		return 0, false
	}
	p := backoff.Policy{Initial: r.Delay, Multiplier: r.BackoffMultiplier, Max: r.MaxDelay}
	if p.Multiplier > 1 && p.Max == 0 {
		p.Max = 5 * time.Minute
	}
	return p.Delay(n), true
}

// Event is something notable that happened to a running job.
type Event struct {
	Time         time.Time
	Kind         EventKind
	CheckpointID int64
	Attempt      int
	Message      string
	Err          error
}

// EventKind classifies events.
type EventKind string

const (
	EventCheckpointCompleted EventKind = "checkpoint-completed"
	EventCheckpointFailed    EventKind = "checkpoint-failed"
	EventSavepointCompleted  EventKind = "savepoint-completed"
	EventRestored            EventKind = "restored"
	EventFallback            EventKind = "fallback" // a checkpoint was corrupt; an older one is used
	EventRestarting          EventKind = "restarting"
)

func (e Event) String() string {
	s := fmt.Sprintf("%s %s", e.Time.Format(time.RFC3339), e.Kind)
	if e.CheckpointID != 0 {
		s += fmt.Sprintf(" checkpoint %d", e.CheckpointID)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}
