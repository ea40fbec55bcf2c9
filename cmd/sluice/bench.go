package main

import (
	"context"
	"io"
)

// benches holds the `sluice bench <name>` cases; each subsystem registers its
// own from its own file with registerBench.
var benches = map[string]*command{}

// registerBench adds `sluice bench <name>`. The handler parses its own flags;
// every bench accepts --json (one JSON object per case, see
// internal/bench) and --runs (how many runs to take the median of).
func registerBench(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	if _, dup := benches[name]; dup {
		panic("sluice: bench registered twice: " + name)
	}
	benches[name] = &command{name: name, summary: summary, run: run}
}

func init() {
	register(&command{
		name:    "bench",
		summary: "run the headline benchmarks (sluice bench <case> --json)",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return subcommands(ctx, "bench", benches, args, stdout, stderr)
		},
	})
}
