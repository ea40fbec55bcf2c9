package service

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// The options of a job's configuration, by Flink's names: the restart
// strategy's (engine.RestartOptionKeys), the checkpoint interval and the
// parallelism. They come from the SQL script's SETs and a submission's
// "config" (which wins).
var jobOptionKeys = append(slices.Clone(engine.RestartOptionKeys), "execution.checkpointing.interval", "parallelism.default")

// jobConfig is what a job's options say.
type jobConfig struct {
	restart     *engine.RestartStrategy
	interval    time.Duration
	parallelism int
}

// jobSettings reads the job options of the script's SETs (keys other than
// the job options are the script's own and ignored here) and of the
// submission's config (where every key must be a job option). Errors
// name a config key as "config.KEY".
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
	if v, ok := opts["execution.checkpointing.interval"]; ok {
		d, err := engine.ParseFlinkDuration(v)
		if err != nil {
			return c, fail("execution.checkpointing.interval", "%v", err)
		}
		c.interval = d
	}
	if v, ok := opts["parallelism.default"]; ok {
		var err error
		if c.parallelism, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || c.parallelism < 1 {
			return c, fail("parallelism.default", "want a positive whole number")
		}
	}
	r, err := engine.RestartFromOptions(opts)
	var oe *engine.OptionError
	if errors.As(err, &oe) {
		return c, &SpecError{Field: from[oe.Key], Message: oe.Error()}
	}
	if err != nil {
		return c, err
	}
	if r == nil {
		// Sluice's default with checkpoints: a fixed delay of 1 s, 10 attempts.
		r = engine.FixedDelay(10, time.Second)
	}
	c.restart = r
	return c, nil
}
