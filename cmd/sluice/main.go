// Command sluice is Sluice's single binary: it runs jobs and pipelines, serves
// the built-in sharded log, and prints the headline benchmarks.
//
// Subcommands register themselves from their own files (see register and
// registerBench), so that each subsystem keeps its command code beside the
// rest of its work.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/sluicehq/sluice/internal/bench"
)

// command is one `sluice <name>` subcommand.
type command struct {
	name    string
	summary string
	// run executes the command with the arguments after its name. Output
	// goes to stdout, diagnostics to stderr.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

// register adds a subcommand; it is called from init functions.
// registerGroup registers a command whose first argument names one of subs.
func registerGroup(name, summary string, subs []*command) {
	table := make(map[string]*command, len(subs))
	for _, c := range subs {
		table[c.name] = c
	}
	register(&command{name: name, summary: summary, run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return subcommands(ctx, name, table, args, stdout, stderr)
	}})
}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("sluice: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error caused by bad command-line arguments; main exits
// with status 2 for it.
var errUsage = errors.New("usage")

// usageError wraps errUsage with a message that says what is wrong.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// A command is required: say so, as any other usage error.
		printUsage(stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sluice: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "sluice %s: %v\n", c.name, err)
		if errors.Is(err, errUsage) || errors.Is(err, bench.ErrConfig) {
			return 2
		}
		return 1
	}
	return 0
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "sluice: stream processing, a Kinesis-model log and Firehose-style delivery in one binary")
	fmt.Fprintln(w, "\nUsage: sluice <command> [arguments]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'sluice <command> -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// setUsage makes -h print the command's synopsis and what it does before
// its flags (the flag package alone prints only "Usage of <name>:").
func setUsage(fs *flag.FlagSet, synopsis, description string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s\n", synopsis, description)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
}

// parseFlags parses args, turning a parse error into a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%v", err)
	}
	return nil
}

// subcommands dispatches `sluice <parent> <sub> ...` to a table of handlers.
func subcommands(ctx context.Context, parent string, table map[string]*command, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		names := make([]string, 0, len(table))
		for n := range table {
			names = append(names, n)
		}
		slices.Sort(names)
		fmt.Fprintf(stdout, "Usage: sluice %s <%s> [flags]\n\n", parent, strings.Join(names, "|"))
		for _, n := range names {
			fmt.Fprintf(stdout, "  %-12s %s\n", n, table[n].summary)
		}
		if len(args) == 0 {
			return usageError("sluice %s needs a subcommand", parent)
		}
		return nil
	}
	c, ok := table[args[0]]
	if !ok {
		return usageError("unknown %s subcommand %q", parent, args[0])
	}
	return c.run(ctx, args[1:], stdout, stderr)
}
