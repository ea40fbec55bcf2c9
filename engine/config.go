package engine

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
	"github.com/sluicehq/sluice/state"
)

// Config configures a job. The zero value is usable: EnsureDefaults fills in
// every unset field with the default documented on it.
type Config struct {
	// Parallelism is the default parallelism of operators that do not set
	// their own. Default 1.
	Parallelism int
	// MaxParallelism is the number of key groups, the upper bound of any
	// keyed operator's parallelism and the unit of state redistribution.
	// Default 128. It cannot change between a checkpoint and its restore.
	MaxParallelism int
	// BatchSize is the number of records in a batch passed between chained
	// operators and across exchanges. Default 512.
	BatchSize int
	// ChannelCapacity is the number of batches an exchange channel between
	// two subtasks buffers before its sender blocks (backpressure). Default 4.
	ChannelCapacity int
	// BufferTimeout bounds how long a partly filled exchange batch waits
	// before it is sent anyway, by the job's clock. Batches are also sent as
	// soon as the sending task has no more input to process. Default 5ms.
	BufferTimeout time.Duration
	// WatermarkInterval is how often sources emit watermarks (by the job's
	// clock). A negative value means after every batch read, which tests
	// driven by a manual clock use. Default 200ms.
	WatermarkInterval time.Duration
	// Clock is the one clock of the job: processing-time timers, watermark
	// intervals, idleness, state TTL, the buffer timeout, the checkpoint
	// interval and timeout, restart delays, split coordinators' schedules and
	// the times in events, manifests and metrics all read it, so that a test
	// drives every timer of a job with one ManualClock. Default clock.Real.
	Clock clock.Clock
	// StateCacheEntries bounds each keyed operator's state cache. Default
	// 1<<18 (see package state).
	StateCacheEntries int
	// DisableChaining runs every operator in its own task.
	DisableChaining bool

	// StateBackend is where keyed state lives: "pebble" (default), on disk
	// under StateDir behind the bounded state cache, or "memory".
	StateBackend string
	// StateDir is the working directory of Pebble state. Default: a new
	// temporary directory, removed when the job ends.
	StateDir string
	// Checkpoint configures checkpoints, savepoints and restores.
	Checkpoint CheckpointConfig
	// Restart says whether and when a failed job restarts from its latest
	// checkpoint. Default: no restart without checkpoints; with periodic
	// checkpoints, a fixed delay of 1s for up to 10 attempts.
	Restart *RestartStrategy
	// Exchange, if set, carries every exchange channel between tasks
	// (what is not chained) instead of in-process channels, as across
	// processes (see ExchangeTransport).
	Exchange ExchangeTransport
	// Events, if set, receives notable events: checkpoints completed or
	// failed, restarts, fallbacks to older checkpoints. It is called from the
	// job's goroutines and must not block.
	Events func(Event)
}

// CheckpointConfig configures checkpoints.
type CheckpointConfig struct {
	// Interval between periodic checkpoints; zero disables them.
	Interval time.Duration
	// Dir is the local directory of checkpoints (LocalStorage). Required
	// for periodic checkpoints unless Storage is set.
	Dir string
	// Storage overrides Dir with another CheckpointStorage.
	Storage CheckpointStorage
	// Retain is how many completed checkpoints to keep. Default 3.
	Retain int
	// Timeout aborts a checkpoint that has not completed in time.
	// Default 10 minutes.
	Timeout time.Duration
	// Resume starts the job from the latest complete checkpoint in the
	// storage, if there is one; a corrupt one is reported and the one
	// before it is tried.
	Resume bool
	// RestoreFrom starts the job from this checkpoint or savepoint
	// directory (it takes precedence over Resume).
	RestoreFrom string
	// AllowNonRestoredState lets a job start from a checkpoint or savepoint
	// that holds state no operator of the job claims; that state is
	// dropped. Without it, such a restore is refused.
	AllowNonRestoredState bool
}

// storage returns the configured checkpoint storage, or nil.
func (c *CheckpointConfig) storage() CheckpointStorage {
	if c.Storage != nil {
		return c.Storage
	}
	if c.Dir != "" {
		return LocalStorage{Dir: c.Dir}
	}
	return nil
}

// EnsureDefaults fills in unset fields.
func (c *Config) EnsureDefaults() {
	if c.Parallelism == 0 {
		c.Parallelism = 1
	}
	if c.MaxParallelism == 0 {
		c.MaxParallelism = state.DefaultMaxParallelism
	}
	if c.BatchSize == 0 {
		c.BatchSize = 512
	}
	if c.ChannelCapacity == 0 {
		c.ChannelCapacity = 4
	}
	if c.BufferTimeout == 0 {
		c.BufferTimeout = 5 * time.Millisecond
	}
	if c.WatermarkInterval == 0 {
		c.WatermarkInterval = 200 * time.Millisecond
	}
	if c.Clock == nil {
		c.Clock = clock.Real
	}
	if c.StateCacheEntries == 0 {
		c.StateCacheEntries = 1 << 18
	}
	if c.StateBackend == "" {
		c.StateBackend = "pebble"
	}
	if c.Checkpoint.Retain == 0 {
		c.Checkpoint.Retain = 3
	}
	if c.Checkpoint.Timeout == 0 {
		c.Checkpoint.Timeout = 10 * time.Minute
	}
	if c.Restart == nil {
		if c.Checkpoint.Interval > 0 {
			c.Restart = &RestartStrategy{MaxAttempts: 10, Delay: time.Second}
		} else {
			c.Restart = &RestartStrategy{}
		}
	}
}

// Validate reports the first unusable setting.
func (c *Config) Validate() error {
	switch {
	case c.Parallelism < 1:
		return fmt.Errorf("%w: parallelism %d must be at least 1", ErrInvalidJob, c.Parallelism)
	case c.MaxParallelism < 1 || c.MaxParallelism > state.MaxMaxParallelism:
		return fmt.Errorf("%w: max parallelism %d out of range [1, %d]", ErrInvalidJob, c.MaxParallelism, state.MaxMaxParallelism)
	case c.Parallelism > c.MaxParallelism:
		return fmt.Errorf("%w: parallelism %d exceeds max parallelism %d", ErrInvalidJob, c.Parallelism, c.MaxParallelism)
	case c.BatchSize < 1:
		return fmt.Errorf("%w: batch size %d must be at least 1", ErrInvalidJob, c.BatchSize)
	case c.ChannelCapacity < 1:
		return fmt.Errorf("%w: channel capacity %d must be at least 1", ErrInvalidJob, c.ChannelCapacity)
	case c.BufferTimeout < 0:
		return fmt.Errorf("%w: negative buffer timeout", ErrInvalidJob)
	case c.StateBackend != "pebble" && c.StateBackend != "memory":
		return fmt.Errorf("%w: state backend %q: want \"pebble\" or \"memory\"", ErrInvalidJob, c.StateBackend)
	case c.Checkpoint.Interval < 0:
		return fmt.Errorf("%w: negative checkpoint interval", ErrInvalidJob)
	case c.Checkpoint.Interval > 0 && c.Checkpoint.storage() == nil:
		return fmt.Errorf("%w: periodic checkpoints need Checkpoint.Dir or Checkpoint.Storage", ErrInvalidJob)
	case c.Checkpoint.Resume && c.Checkpoint.storage() == nil:
		return fmt.Errorf("%w: Checkpoint.Resume needs Checkpoint.Dir or Checkpoint.Storage", ErrInvalidJob)
	case c.Checkpoint.Retain < 1:
		return fmt.Errorf("%w: Checkpoint.Retain %d must be at least 1", ErrInvalidJob, c.Checkpoint.Retain)
	}
	return c.Restart.validate()
}
