package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/sql/session"
)

func init() {
	register(&command{
		name:    "run",
		summary: "run a SQL pipeline: CREATE TABLE ... WITH connectors, INSERT INTO ... SELECT",
		run:     runSQL,
	})
}

// runSQL is `sluice run FILE.sql [--explain]`: parse and plan the script
// (errors with line, column and caret), then run its jobs in order (see
// splitJobs), each until bounded input ends or the command is interrupted,
// and print what each sink table wrote.
func runSQL(ctx context.Context, args []string, stdout, stderr io.Writer) (rerr error) {
	fs := newFlagSet("run", stderr)
	explain := fs.Bool("explain", false, "print the logical plan and the engine job, then exit")
	stateDir := fs.String("state-dir", "", "directory of the job's keyed state (default: a temporary directory)")
	ckptDir := fs.String("checkpoint-dir", "", "directory of checkpoints with SET 'execution.checkpointing.interval' (default: <data-dir>/checkpoints/job-<k>, when there is a data directory)")
	resume := fs.Bool("resume", false, "continue from the latest checkpoint in --checkpoint-dir (exactly once for the filesystem sink)")
	dataDir := fs.String("data-dir", "", "data directory: the log of shardlog tables (<dir>/log) and records that do not decode (<dir>/errors/<table>); default: a fresh temporary directory, removed at the end")
	progress := fs.Duration("progress", 10*time.Second, "how often to print a progress line to stderr (0: never)")
	setUsage(fs, "sluice run [--explain] FILE.sql",
		"Runs a Flink-dialect SQL script: each top-level INSERT INTO (or EXECUTE STATEMENT SET) is a job, run to its end before the next starts; at the end, what each sink table wrote.")
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
	srcBytes, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	src := string(srcBytes)
	stmts, err := parser.Parse(src)
	if err != nil {
		return fmt.Errorf("%s:\n%w", file, err)
	}
	scripts := session.SplitJobs(src, stmts)
	progs := make([]*planner.Program, len(scripts))
	for k, s := range scripts {
		if progs[k], err = planner.Plan(s); err != nil {
			return fmt.Errorf("%s:\n%w", file, err)
		}
	}
	// SHOW and DESCRIBE are in every job's script: print them once.
	for _, l := range progs[0].Output {
		fmt.Fprintln(stdout, l)
	}
	if !progs[0].HasJob() {
		return nil
	}
	if *explain || slices.ContainsFunc(progs, func(p *planner.Program) bool { return p.Explained }) {
		for k, p := range progs {
			if len(progs) > 1 {
				if k > 0 {
					fmt.Fprintln(stdout)
				}
				fmt.Fprintf(stdout, "=== Job %d of %d (runs to its end before the next starts) ===\n", k+1, len(progs))
			}
			fmt.Fprint(stdout, p.Explain())
		}
		return nil
	}
	if *dataDir == "" && needsDataDir(progs) {
		// A fresh data directory per run: its shardlog streams start
		// empty, so running a script twice never reads the first run's
		// records.
		tmp, err := os.MkdirTemp("", "sluice-run-")
		if err != nil {
			return fmt.Errorf("creating the run's data directory: %w", err)
		}
		defer func() {
			if err := os.RemoveAll(tmp); err != nil && rerr == nil {
				rerr = fmt.Errorf("removing the run's data directory: %w", err)
			}
			fmt.Fprintf(stderr, "sluice run: temporary data directory %s removed\n", tmp)
		}()
		*dataDir = tmp
		fmt.Fprintf(stderr, "sluice run: data directory %s (temporary; --data-dir to keep it)\n", tmp)
	}
	var summary []string
	for k, p := range progs {
		name := p.JobName(file)
		if len(progs) > 1 {
			name = fmt.Sprintf("%s#%d", name, k+1)
		}
		ck, fallback := *ckptDir, ""
		if ck != "" && len(progs) > 1 {
			ck = filepath.Join(ck, fmt.Sprintf("job-%d", k+1))
		}
		if *dataDir != "" {
			fallback = filepath.Join(*dataDir, "checkpoints", fmt.Sprintf("job-%d", k+1))
		}
		if *resume && session.FinishedBefore(jobCheckpointDir(ck, fallback)) {
			// It ran to its end before the run was stopped: running it
			// again would write its rows twice.
			fmt.Fprintf(stderr, "sluice run: job %q finished in an earlier run: skipped\n", name)
			continue
		}
		lines, stopped, err := runJob(ctx, p, name, jobOptions{stateDir: *stateDir, ckptDir: ck, ckptFallback: fallback, resume: *resume, dataDir: *dataDir, progress: *progress}, stdout, stderr)
		summary = append(summary, lines...)
		if err != nil {
			return err
		}
		if stopped {
			break
		}
	}
	if len(summary) > 0 {
		fmt.Fprintln(stderr, "sluice run: written:")
		for _, l := range summary {
			fmt.Fprintf(stderr, "  %s\n", l)
		}
	}
	return nil
}

type jobOptions struct {
	stateDir, ckptDir, dataDir string
	// ckptFallback is where checkpoints go when the script checkpoints
	// and --checkpoint-dir is not given: under the run's data directory
	// ("" when there is none).
	ckptFallback string
	resume       bool
	progress     time.Duration
}

// jobCheckpointDir is where a job's checkpoints go: --checkpoint-dir
// (per job for a script of several), else under the data directory.
func jobCheckpointDir(ck, fallback string) string {
	if ck != "" {
		return ck
	}
	return fallback
}

// runJob runs one job of a script until it ends or ctx is cancelled
// (stopped), and returns the summary of what its sinks wrote.
func runJob(ctx context.Context, p *planner.Program, name string, o jobOptions, stdout, stderr io.Writer) (summary []string, stopped bool, rerr error) {
	cfg, err := p.Config()
	if err != nil {
		return nil, false, err
	}
	ck := o.ckptDir
	scriptDir := p.SetsCheckpointDir() // SET 'execution.checkpointing.dir'
	if cfg.Checkpoint.Interval > 0 && ck == "" && !o.resume {
		ck = o.ckptFallback
	}
	if cfg.Checkpoint.Interval > 0 && ck == "" && !scriptDir {
		return nil, false, fmt.Errorf("%w: SET 'execution.checkpointing.interval' needs --checkpoint-dir (or --data-dir)", errUsage)
	}
	if o.resume && ck == "" && !scriptDir {
		return nil, false, fmt.Errorf("%w: --resume needs --checkpoint-dir", errUsage)
	}
	before, err := snapshotSinks(p)
	if err != nil {
		return nil, false, err
	}
	j, err := session.Start(p, session.NewJobID(), name, session.JobOptions{
		StateDir: o.stateDir, CheckpointDir: ck, Resume: o.resume, DataDir: o.dataDir, Stdout: stdout, Stderr: stderr,
	})
	if err != nil {
		return nil, false, err
	}
	fmt.Fprintf(stderr, "sluice run: job %q started\n", name)
	last, lastAt := j.Metrics(), time.Now()
	var tick <-chan time.Time
	if o.progress > 0 {
		t := time.NewTicker(o.progress)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-j.Done():
			if err := j.Wait(); err != nil {
				return nil, false, err
			}
			m := j.Metrics()
			fmt.Fprintf(stderr, "sluice run: job %q finished in %v\n", name, m.Elapsed.Round(time.Millisecond))
			s, err := summaryLines(p, m, before, o.dataDir)
			return s, false, err
		case now := <-tick:
			m := j.Metrics()
			fmt.Fprintf(stderr, "sluice run: %s\n", progressLine(last, m, now.Sub(lastAt), j.LastCheckpointStats(), now))
			last, lastAt = m, now
		case <-ctx.Done():
			// An interrupt first takes a final checkpoint, so that
			// --resume continues from there, then stops the job.
			if ck != "" || scriptDir {
				if id, err := j.Checkpoint(context.Background()); err != nil {
					fmt.Fprintf(stderr, "sluice run: final checkpoint failed: %v\n", err)
				} else {
					fmt.Fprintf(stderr, "sluice run: final checkpoint %d taken\n", id)
				}
			}
			j.Cancel()
			if err := j.Wait(); err != nil {
				return nil, true, err
			}
			fmt.Fprintf(stderr, "sluice run: job %q stopped\n", name)
			s, err := summaryLines(p, j.Metrics(), before, o.dataDir)
			return s, true, err
		}
	}
}
