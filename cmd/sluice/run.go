package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
)

func init() {
	register(&command{
		name:    "run",
		summary: "run a SQL pipeline: CREATE TABLE ... WITH connectors, INSERT INTO ... SELECT",
		run:     runSQL,
	})
}

// runSQL is `sluice run FILE.sql [--explain]`: parse and plan the script
// (errors with line, column and caret), then run its job until bounded
// input ends or the command is interrupted.
func runSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	explain := fs.Bool("explain", false, "print the logical plan and the engine job, then exit")
	stateDir := fs.String("state-dir", "", "directory of the job's keyed state (default: a temporary directory)")
	ckptDir := fs.String("checkpoint-dir", "", "directory of checkpoints, needed with SET 'execution.checkpointing.interval'")
	setUsage(fs, "sluice run [--explain] FILE.sql",
		"Runs the INSERT INTO statements of a Flink-dialect SQL script as one job.")
	// Accept the file before or after the flags.
	var file string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if file == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: want exactly one SQL file", errUsage)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	p, err := planner.Plan(string(src))
	if err != nil {
		return fmt.Errorf("%s:\n%w", file, err)
	}
	if *explain || p.Explained {
		fmt.Fprint(stdout, p.Explain())
		return nil
	}
	cfg, err := p.Config()
	if err != nil {
		return err
	}
	cfg.StateDir = *stateDir
	cfg.Checkpoint.Dir = *ckptDir
	if cfg.Checkpoint.Interval > 0 && cfg.Checkpoint.Dir == "" {
		return fmt.Errorf("%w: SET 'execution.checkpointing.interval' needs --checkpoint-dir", errUsage)
	}
	j := engine.NewJob(p.JobName(file), cfg)
	if err := p.Build(j, planner.RunOptions{Stdout: stdout, Stderr: stderr}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sluice run: job %q started\n", p.JobName(file))
	err = j.Execute(ctx)
	if err != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "sluice run: job %q stopped\n", p.JobName(file))
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sluice run: job %q finished\n", p.JobName(file))
	return nil
}
