package service

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// The options of a job's configuration, by Flink's names. They come from
// the SQL script's SETs and a submission's "config" (which wins).
var jobOptionKeys = []string{
	"restart-strategy.type",
	"restart-strategy.fixed-delay.attempts",
	"restart-strategy.fixed-delay.delay",
	"restart-strategy.exponential-delay.initial-backoff",
	"restart-strategy.exponential-delay.max-backoff",
	"restart-strategy.exponential-delay.backoff-multiplier",
	"restart-strategy.exponential-delay.reset-backoff-threshold",
	"restart-strategy.exponential-delay.attempts-before-reset-backoff",
	"execution.checkpointing.interval",
	"parallelism.default",
}

// jobConfig is what a job's options say.
type jobConfig struct {
	restart     *engine.RestartStrategy
	interval    time.Duration
	parallelism int
}

// jobSettings reads the job options of the script's SETs (keys other than
// the job options are the script's own and ignored here) and of the
// submission's config (where every key must be a job option). Errors
// name the config key as "config.KEY".
func jobSettings(script, config map[string]string) (jobConfig, error) {
	opts := map[string]string{}
	from := map[string]string{}
	for _, k := range jobOptionKeys {
		if v, ok := script[k]; ok {
			opts[k], from[k] = v, "SET '"+k+"'"
		}
	}
	for k, v := range config {
		if !slices.Contains(jobOptionKeys, k) {
			return jobConfig{}, &SpecError{Field: "config." + k, Message: fmt.Sprintf("unknown option %q (the options are %s)", k, strings.Join(jobOptionKeys, ", "))}
		}
		opts[k], from[k] = v, "config."+k
	}
	var c jobConfig
	fail := func(k, format string, args ...any) error {
		return &SpecError{Field: from[k], Message: fmt.Sprintf("'%s' = '%s': ", k, opts[k]) + fmt.Sprintf(format, args...)}
	}
	dur := func(k string, def time.Duration) (time.Duration, error) {
		v, ok := opts[k]
		if !ok {
			return def, nil
		}
		d, err := parseFlinkDuration(v)
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
	var err error
	if c.interval, err = dur("execution.checkpointing.interval", 0); err != nil {
		return c, err
	}
	if v, ok := opts["parallelism.default"]; ok {
		if c.parallelism, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || c.parallelism < 1 {
			return c, fail("parallelism.default", "want a positive whole number")
		}
	}
	typ, set := opts["restart-strategy.type"]
	typ = strings.ToLower(strings.TrimSpace(typ))
	if !set {
		// Flink's default with checkpointing: restarts with a delay (its
		// exponential-delay); Sluice's engine default is a fixed delay of
		// 1 s for 10 attempts. Both families' keys pick their strategy.
		typ = ""
		for k := range opts {
			if strings.HasPrefix(k, "restart-strategy.fixed-delay.") {
				typ = "fixed-delay"
			}
		}
		for k := range opts {
			if strings.HasPrefix(k, "restart-strategy.exponential-delay.") {
				if typ != "" {
					return c, fail(k, "options of both fixed-delay and exponential-delay are set; set 'restart-strategy.type'")
				}
				typ = "exponential-delay"
			}
		}
	}
	switch typ {
	case "":
		c.restart = engine.FixedDelay(10, time.Second)
	case "none", "off", "disable":
		c.restart = engine.NoRestart()
	case "fixed-delay", "fixeddelay":
		n, err := count("restart-strategy.fixed-delay.attempts", 1)
		if err != nil {
			return c, err
		}
		d, err := dur("restart-strategy.fixed-delay.delay", time.Second)
		if err != nil {
			return c, err
		}
		c.restart = engine.FixedDelay(n, d)
	case "exponential-delay", "exponentialdelay":
		initial, err := dur("restart-strategy.exponential-delay.initial-backoff", time.Second)
		if err != nil {
			return c, err
		}
		maxB, err := dur("restart-strategy.exponential-delay.max-backoff", time.Minute)
		if err != nil {
			return c, err
		}
		reset, err := dur("restart-strategy.exponential-delay.reset-backoff-threshold", time.Hour)
		if err != nil {
			return c, err
		}
		n, err := count("restart-strategy.exponential-delay.attempts-before-reset-backoff", math.MaxInt32)
		if err != nil {
			return c, err
		}
		mult := 1.5
		if v, ok := opts["restart-strategy.exponential-delay.backoff-multiplier"]; ok {
			if mult, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || mult < 1 {
				return c, fail("restart-strategy.exponential-delay.backoff-multiplier", "want a number, at least 1")
			}
		}
		c.restart = engine.ExponentialBackoff(n, initial, maxB, mult)
		c.restart.ResetAfter = reset
	case "failure-rate", "failurerate":
		return c, fail("restart-strategy.type", "the failure-rate strategy is not supported (fixed-delay, exponential-delay or none)")
	default:
		return c, fail("restart-strategy.type", "want fixed-delay, exponential-delay or none")
	}
	return c, nil
}

// parseFlinkDuration reads Flink's durations: "10 s", "1min", "500 ms",
// "2 h", a bare number of milliseconds.
func parseFlinkDuration(v string) (time.Duration, error) {
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
