package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

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
func runSQL(ctx context.Context, args []string, stdout, stderr io.Writer) (rerr error) {
	fs := newFlagSet("run", stderr)
	explain := fs.Bool("explain", false, "print the logical plan and the engine job, then exit")
	stateDir := fs.String("state-dir", "", "directory of the job's keyed state (default: a temporary directory)")
	ckptDir := fs.String("checkpoint-dir", "", "directory of checkpoints, needed with SET 'execution.checkpointing.interval'")
	resume := fs.Bool("resume", false, "continue from the latest checkpoint in --checkpoint-dir (exactly once for the filesystem sink)")
	dataDir := fs.String("data-dir", "", "data directory: the log of shardlog tables (<dir>/log) and records that do not decode (<dir>/errors/<table>)")
	progress := fs.Duration("progress", 10*time.Second, "how often to print a progress line to stderr (0: never)")
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
	for _, l := range p.Output {
		fmt.Fprintln(stdout, l)
	}
	if !p.HasJob() {
		return nil
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
	if *resume {
		if cfg.Checkpoint.Dir == "" {
			return fmt.Errorf("%w: --resume needs --checkpoint-dir", errUsage)
		}
		cfg.Checkpoint.Resume = true
	}
	j := engine.NewJob(p.JobName(file), cfg)
	if err := p.Build(j, planner.RunOptions{Stdout: stdout, Stderr: stderr, DataDir: *dataDir}); err != nil {
		return errors.Join(err, p.Close())
	}
	defer func() {
		if cerr := p.Close(); cerr != nil && rerr == nil {
			rerr = cerr
		}
	}()
	name := p.JobName(file)
	// The job runs on its own context: an interrupt (ctx) first takes a
	// final checkpoint, so that --resume continues from there, then stops.
	r, err := j.Start(context.Background())
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sluice run: job %q started\n", name)
	last, lastAt := r.Metrics(), time.Now()
	var tick <-chan time.Time
	if *progress > 0 {
		t := time.NewTicker(*progress)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-r.Done():
			if err := r.Wait(); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "sluice run: job %q finished\n", name)
			return nil
		case now := <-tick:
			m := r.Metrics()
			fmt.Fprintf(stderr, "sluice run: %s\n", progressLine(last, m, now.Sub(lastAt), r.LastCheckpointStats(), now))
			last, lastAt = m, now
		case <-ctx.Done():
			if cfg.Checkpoint.Dir != "" {
				if id, err := r.TriggerCheckpoint(context.Background()); err != nil {
					fmt.Fprintf(stderr, "sluice run: final checkpoint failed: %v\n", err)
				} else {
					fmt.Fprintf(stderr, "sluice run: final checkpoint %d taken\n", id)
				}
			}
			r.Cancel()
			if err := r.Wait(); err != nil && !errors.Is(err, engine.ErrJobCancelled) {
				return err
			}
			fmt.Fprintf(stderr, "sluice run: job %q stopped\n", name)
			return nil
		}
	}
}
