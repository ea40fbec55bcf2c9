package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// RestartOptionKeys are Flink's restart-strategy options, which
// RestartFromOptions reads (a SQL script's SETs, a service job's config).
var RestartOptionKeys = []string{
	"restart-strategy.type",
	"restart-strategy.fixed-delay.attempts",
	"restart-strategy.fixed-delay.delay",
	"restart-strategy.exponential-delay.initial-backoff",
	"restart-strategy.exponential-delay.max-backoff",
	"restart-strategy.exponential-delay.backoff-multiplier",
	"restart-strategy.exponential-delay.reset-backoff-threshold",
	"restart-strategy.exponential-delay.attempts-before-reset-backoff",
}

// OptionError is an option whose value is refused; Key names it.
type OptionError struct {
	Key, Value, Message string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("'%s' = '%s': %s", e.Key, e.Value, e.Message)
}

// RestartFromOptions reads a restart strategy from Flink's options
// (RestartOptionKeys; other keys are ignored). With no restart option it
// returns nil: the engine's default. Defaults are Flink's: fixed-delay 1
// attempt after 1 s; exponential-delay from 1 s by 1.5 up to 1 min,
// reset after 1 h without failure, attempts unbounded.
func RestartFromOptions(opts map[string]string) (*RestartStrategy, error) {
	fail := func(k, format string, args ...any) error {
		return &OptionError{Key: k, Value: opts[k], Message: fmt.Sprintf(format, args...)}
	}
	dur := func(k string, def time.Duration) (time.Duration, error) {
		v, ok := opts[k]
		if !ok {
			return def, nil
		}
		d, err := ParseFlinkDuration(v)
		if err != nil {
			return 0, fail(k, "%v", err)
		}
		return d, nil
	}
	count := func(k string, def int) (int, error) {
		v, ok := opts[k]
		if !ok {
			return def, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return 0, fail(k, "want a whole number, at least 0")
		}
		return n, nil
	}
	typ, set := opts["restart-strategy.type"]
	typ = strings.ToLower(strings.TrimSpace(typ))
	if !set {
		typ = ""
		for _, k := range RestartOptionKeys {
			if _, ok := opts[k]; ok && strings.HasPrefix(k, "restart-strategy.fixed-delay.") {
				typ = "fixed-delay"
			}
		}
		for _, k := range RestartOptionKeys {
			if _, ok := opts[k]; ok && strings.HasPrefix(k, "restart-strategy.exponential-delay.") {
				if typ != "" {
					return nil, fail(k, "options of both fixed-delay and exponential-delay are set; set 'restart-strategy.type'")
				}
				typ = "exponential-delay"
			}
		}
	}
	switch typ {
	case "":
		return nil, nil
	case "none", "off", "disable":
		return NoRestart(), nil
	case "fixed-delay", "fixeddelay":
		n, err := count("restart-strategy.fixed-delay.attempts", 1)
		if err != nil {
			return nil, err
		}
		d, err := dur("restart-strategy.fixed-delay.delay", time.Second)
		if err != nil {
			return nil, err
		}
		return FixedDelay(n, d), nil
	case "exponential-delay", "exponentialdelay":
		initial, err := dur("restart-strategy.exponential-delay.initial-backoff", time.Second)
		if err != nil {
			return nil, err
		}
		maxB, err := dur("restart-strategy.exponential-delay.max-backoff", time.Minute)
		if err != nil {
			return nil, err
		}
		reset, err := dur("restart-strategy.exponential-delay.reset-backoff-threshold", time.Hour)
		if err != nil {
			return nil, err
		}
		n, err := count("restart-strategy.exponential-delay.attempts-before-reset-backoff", math.MaxInt32)
		if err != nil {
			return nil, err
		}
		mult := 1.5
		if v, ok := opts["restart-strategy.exponential-delay.backoff-multiplier"]; ok {
			if mult, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || mult < 1 {
				return nil, fail("restart-strategy.exponential-delay.backoff-multiplier", "want a number, at least 1")
			}
		}
		r := ExponentialBackoff(n, initial, maxB, mult)
		r.ResetAfter = reset
		return r, nil
	case "failure-rate", "failurerate":
		return nil, fail("restart-strategy.type", "the failure-rate strategy is not supported (fixed-delay, exponential-delay or none)")
	}
	return nil, fail("restart-strategy.type", "want fixed-delay, exponential-delay or none")
}

// ParseFlinkDuration reads Flink's durations: "10 s", "1min", "500 ms",
// "2 h", a bare number of milliseconds.
func ParseFlinkDuration(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("not a duration (say 10 s, 500 ms, 1 min)")
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a duration: %w", err)
	}
	unit := map[string]time.Duration{
		"": time.Millisecond, "ms": time.Millisecond, "milli": time.Millisecond, "millis": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
		"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
		"min": time.Minute, "m": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hour": time.Hour, "hours": time.Hour, "d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	}
	u, ok := unit[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("unknown time unit %q (ms, s, min, h, d)", strings.TrimSpace(s[i:]))
	}
	return time.Duration(n) * u, nil
}
