package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/sql/row"
)

// SplitJobs returns the scripts of the jobs a script runs, in order. As
// Flink's SQL client with 'table.dml-sync' = 'true', each top-level INSERT
// (or EXECUTE STATEMENT SET, or query) is a job of its own that runs to its
// end before the next starts; a script with one is one job. Job k's script
// is the whole script with every other job's statement blanked out
// (spaces, newlines kept), so its DDL, SETs and views are all there and
// every error keeps the line and column of the file.
func SplitJobs(src string, stmts []ast.Statement) []string {
	var dml []diag.Span
	for _, st := range stmts {
		if isJob(st) {
			dml = append(dml, st.Span())
		}
	}
	if len(dml) <= 1 {
		return []string{src}
	}
	jobs := make([]string, len(dml))
	for k := range dml {
		b := []byte(src)
		for i, sp := range dml {
			if i == k {
				continue
			}
			for o := sp.Start.Offset; o < sp.End.Offset && o < len(b); o++ {
				if b[o] != '\n' {
					b[o] = ' '
				}
			}
		}
		jobs[k] = string(b)
	}
	return jobs
}

// isJob reports whether a statement runs a job: an INSERT, a statement set
// or a query, possibly under EXPLAIN or EXECUTE.
func isJob(st ast.Statement) bool {
	if ex, ok := st.(*ast.Explain); ok {
		st = ex.Stmt
	}
	if ex, ok := st.(*ast.Execute); ok {
		st = ex.Stmt
	}
	switch st.(type) {
	case *ast.Insert, *ast.StatementSet, *ast.QueryStmt:
		return true
	}
	return false
}

// JobOptions say where a job keeps its state and checkpoints, what it
// starts from and where its print output goes.
type JobOptions struct {
	// StateDir is the directory of the job's keyed state ("" a temporary
	// one).
	StateDir string
	// CheckpointDir is where the job's checkpoints go; required when the
	// script sets 'execution.checkpointing.interval', and with Resume.
	CheckpointDir string
	// Resume starts the job from the latest complete checkpoint in
	// CheckpointDir.
	Resume bool
	// RestoreFrom starts the job from this savepoint or checkpoint
	// directory ('execution.savepoint.path'); it takes precedence over
	// Resume.
	RestoreFrom string
	// DataDir is the data directory of shardlog tables and error outputs.
	DataDir string
	// Stdout and Stderr take the print connector's rows.
	Stdout, Stderr io.Writer
	// SinkTo, when set, is asked for each sink table first (see
	// planner.RunOptions.SinkTo).
	SinkTo func(table string) engine.Sink[*row.Row]
	// Logs are logs the caller holds open, by directory
	// (planner.RunOptions.Logs).
	Logs map[string]*shardlog.Log
	// Configure, when set, adjusts the engine configuration last (after
	// the script's SETs and the options above): `sluice serve` sets its
	// restart strategy and a default checkpoint interval this way.
	Configure func(*engine.Config)
}

// Status is a job's state as Flink's SHOW JOBS names it.
type Status string

// The states of a job.
const (
	Running  Status = "RUNNING"
	Finished Status = "FINISHED"
	Failed   Status = "FAILED"
	Canceled Status = "CANCELED"
)

// Job is one running (or ended) engine job of a planned program. Its
// methods are safe for concurrent use.
type Job struct {
	ID      string
	Name    string
	Started time.Time
	// CheckpointDir is where its checkpoints go ("" none).
	CheckpointDir string

	prog *planner.Program
	run  *engine.Running
	done chan struct{}

	mu       sync.Mutex
	stopping bool
	status   Status
	err      error
	ended    time.Time
	final    engine.Metrics
}

// finishedMarker is the file a job leaves in its checkpoint directory when
// it has run to its end, so that a resumed script does not run it again.
const finishedMarker = "_FINISHED"

// FinishedBefore reports whether the job whose checkpoints are in dir ran
// to its end in an earlier run.
func FinishedBefore(dir string) bool {
	if dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, finishedMarker))
	return err == nil
}

// NewJobID is a job id in Flink's form: 32 hexadecimal digits.
func NewJobID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("session: reading random bytes: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// Start builds and starts a job of a planned program. The job owns prog
// and closes it when it ends.
func Start(prog *planner.Program, id, name string, o JobOptions) (*Job, error) {
	cfg, err := prog.Config()
	if err != nil {
		return nil, errors.Join(err, prog.Close())
	}
	cfg.StateDir = o.StateDir
	if i := strings.Index(o.CheckpointDir, "://"); i >= 0 {
		return nil, errors.Join(fmt.Errorf("checkpoint directory %s: a local directory is wanted here; for %s checkpoints SET 'execution.checkpointing.dir' = '%s' in the script", o.CheckpointDir, o.CheckpointDir[:i], o.CheckpointDir), prog.Close())
	}
	cfg.Checkpoint.Dir = o.CheckpointDir
	// SET 'execution.checkpointing.dir' in the script wins.
	if cfg.Checkpoint.Storage, err = prog.CheckpointStorage(name); err != nil {
		return nil, errors.Join(err, prog.Close())
	}
	hasStorage := cfg.Checkpoint.Dir != "" || cfg.Checkpoint.Storage != nil
	if cfg.Checkpoint.Interval > 0 && !hasStorage {
		return nil, errors.Join(errors.New("SET 'execution.checkpointing.interval' needs a checkpoint directory"), prog.Close())
	}
	if o.Resume {
		if !hasStorage {
			return nil, errors.Join(errors.New("resuming needs a checkpoint directory"), prog.Close())
		}
		cfg.Checkpoint.Resume = true
	}
	if o.RestoreFrom != "" {
		if _, err := os.Stat(o.RestoreFrom); err != nil {
			return nil, errors.Join(fmt.Errorf("'execution.savepoint.path': %w", err), prog.Close())
		}
		cfg.Checkpoint.RestoreFrom = o.RestoreFrom
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	if o.CheckpointDir != "" && !o.Resume {
		// A fresh start: an earlier run's end is not this one's.
		if err := os.Remove(filepath.Join(o.CheckpointDir, finishedMarker)); err != nil && !os.IsNotExist(err) {
			return nil, errors.Join(fmt.Errorf("clearing the finished marker: %w", err), prog.Close())
		}
	}
	j := engine.NewJob(name, cfg)
	if err := prog.Build(j, planner.RunOptions{Stdout: o.Stdout, Stderr: o.Stderr, DataDir: o.DataDir, SinkTo: o.SinkTo, Logs: o.Logs}); err != nil {
		return nil, errors.Join(err, prog.Close())
	}
	// The job runs on its own context: Stop first takes a savepoint or a
	// final checkpoint, then cancels it.
	r, err := j.Start(context.Background())
	if err != nil {
		return nil, errors.Join(err, prog.Close())
	}
	job := &Job{ID: id, Name: name, Started: time.Now(), CheckpointDir: o.CheckpointDir, prog: prog, run: r, done: make(chan struct{}), status: Running}
	go job.watch()
	return job, nil
}

// watch waits for the engine job to end and records how it ended.
func (j *Job) watch() {
	<-j.run.Done()
	err := j.run.Wait()
	m := j.run.Metrics()
	cerr := j.prog.Close()
	j.mu.Lock()
	j.ended, j.final = time.Now(), m
	switch {
	case err == nil:
		j.status = Finished
		if j.CheckpointDir != "" {
			if werr := writeMarker(j.CheckpointDir); werr != nil {
				err = werr
				j.status = Failed
			}
		}
	case errors.Is(err, engine.ErrJobCancelled) && j.stopping:
		j.status, err = Canceled, nil
	default:
		j.status = Failed
	}
	j.err = errors.Join(err, cerr)
	if j.err != nil {
		j.status = Failed
	}
	j.mu.Unlock()
	close(j.done)
}

func writeMarker(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing the finished marker: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, finishedMarker))
	if err != nil {
		return fmt.Errorf("writing the finished marker: %w", err)
	}
	if err := f.Sync(); err != nil {
		return errors.Join(fmt.Errorf("writing the finished marker: %w", err), f.Close())
	}
	return f.Close()
}

// Done is closed when the job has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// Wait waits for the job to end and returns why it failed (nil when it
// finished or was stopped).
func (j *Job) Wait() error {
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Status is the job's state now.
func (j *Job) Status() Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status
}

// Program is the job's planned script.
func (j *Job) Program() *planner.Program { return j.prog }

// Metrics are the job's counters now (at its end, once it has ended).
func (j *Job) Metrics() engine.Metrics {
	select {
	case <-j.done:
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.final
	default:
		return j.run.Metrics()
	}
}

// LastCheckpointStats is the job's last completed checkpoint.
func (j *Job) LastCheckpointStats() engine.CheckpointStats { return j.run.LastCheckpointStats() }

// Records are the records the job's sources read and its sinks were given.
func (j *Job) Records() (in, out int64) {
	for _, om := range j.Metrics().Operators {
		if om.IsSource {
			in += om.RecordsOut
		}
		if om.IsSink {
			out += om.RecordsIn
		}
	}
	return in, out
}

// Checkpoint takes a checkpoint now (the job needs a checkpoint
// directory) and returns its id.
func (j *Job) Checkpoint(ctx context.Context) (int64, error) {
	id, err := j.run.TriggerCheckpoint(ctx)
	if err != nil {
		return 0, fmt.Errorf("job %s: checkpoint: %w", j.ID, err)
	}
	return id, nil
}

// Stop stops a running job: with savepointDir set it first takes a
// savepoint there (a job started with JobOptions.RestoreFrom set to it
// continues from where this one stopped), then cancels the job and waits
// for it to end.
func (j *Job) Stop(ctx context.Context, savepointDir string) error {
	j.mu.Lock()
	if j.status != Running {
		st := j.status
		j.mu.Unlock()
		return fmt.Errorf("job %s is %s, not RUNNING", j.ID, st)
	}
	j.mu.Unlock()
	if savepointDir != "" {
		if err := j.run.Savepoint(ctx, savepointDir); err != nil {
			return fmt.Errorf("job %s: savepoint: %w", j.ID, err)
		}
	}
	j.Cancel()
	return j.Wait()
}

// Cancel cancels the job without a savepoint; it does not wait.
func (j *Job) Cancel() {
	j.mu.Lock()
	j.stopping = true
	j.mu.Unlock()
	j.run.Cancel()
}

// Running is the job's engine job: its graph, per-subtask counters,
// checkpoint history and events.
func (j *Job) Running() *engine.Running { return j.run }
