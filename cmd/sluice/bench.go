package main

import (
	"context"
	"flag"
	"io"

	"github.com/sluicehq/sluice/internal/bench"
)

// benches holds the `sluice bench <name>` cases; each subsystem registers its
// own from its own file with registerBench.
var benches = map[string]*command{}

// registerBench adds `sluice bench <name>`. The handler parses its own flags
// into the Config of the bench's package under internal/bench and calls its
// Run with benchOutput; every bench accepts --json (one JSON object per
// case, see internal/bench) and --runs (how many runs to take the median
// of). A bench's invalid Config (bench.ErrConfig) exits with status 2, like
// a usage error.
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

// benchFlags adds the flag every bench has, --json, and returns a function
// that gives the bench.Emit printing to stdout in the chosen format.
func benchFlags(fs *flag.FlagSet, stdout io.Writer) func() bench.Emit {
	asJSON := fs.Bool("json", false, "print one JSON object per case")
	return func() bench.Emit { return bench.Printer(stdout, *asJSON) }
}
