package engine

import (
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// Clock is the time source of a job (Config.Clock): processing time,
// processing-time timers, watermark intervals and idleness, the exchange
// buffer timeout, checkpoint intervals and timeouts, and restart delays all
// read it. It is the same clock type as the log's (shardlog.Clock) and
// Firehose delivery's, so one manual clock drives them all in a test.
type Clock = clock.Clock

// Timer is a one-shot timer of a Clock.
type Timer = clock.Timer

// ManualClock is a Clock that moves only when a test tells it to: its
// timers fire, in deadline order, during Advance or Set.
type ManualClock = clock.Manual

// NewManualClock returns a manual clock set to start.
func NewManualClock(start time.Time) *ManualClock { return clock.NewManual(start) }

// RealClock is the wall clock, the default.
var RealClock Clock = clock.Real
