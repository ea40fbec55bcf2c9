package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/durable"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/sql/session"
)

// Jobs of the service: SQL pipelines and registered Go jobs, each with
// its own directory:
//
//	DIR/jobs/ID/job.json      the definition and what happened to it
//	                          (state, restarts, exceptions, savepoints),
//	                          replaced atomically
//	DIR/jobs/ID/checkpoints/  its checkpoints
//	DIR/jobs/ID/savepoints/   its savepoints (savepoint-N)
//	DIR/jobs/ID/state/        its keyed state while it runs
//
// A job whose state is RUNNING when the service opens is started again
// from its latest checkpoint (or the savepoint it was last resumed from,
// when no checkpoint followed that).

// GoJob builds a registered Go job: it adds the job's sources, operators
// and sinks to j (its name, checkpoints and restart strategy are the
// service's). args are the submission's.
type GoJob func(ctx context.Context, env JobEnv, j *engine.Job, args []string) error

// JobEnv is what a Go job may use of the service.
type JobEnv struct {
	// Log is the service's log of Kinesis streams.
	Log *shardlog.Log
	// Dir is the job's own directory (DIR/jobs/ID), for files it keeps.
	Dir string
}

var (
	goJobsMu sync.Mutex
	goJobs   = map[string]GoJob{}
)

// RegisterJob registers a Go job under name, for `sluice job submit --go
// NAME`. Call it before Open (from an init function, as database/sql
// drivers register); registering a name twice panics.
func RegisterJob(name string, f GoJob) {
	goJobsMu.Lock()
	defer goJobsMu.Unlock()
	if name == "" || f == nil {
		panic("service: RegisterJob needs a name and a function")
	}
	if _, dup := goJobs[name]; dup {
		panic(fmt.Sprintf("service: Go job %q registered twice", name))
	}
	goJobs[name] = f
}

// RegisteredJobs are the names of the registered Go jobs, sorted.
func RegisteredJobs() []string {
	goJobsMu.Lock()
	defer goJobsMu.Unlock()
	names := make([]string, 0, len(goJobs))
	for n := range goJobs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func goJob(name string) GoJob {
	goJobsMu.Lock()
	defer goJobsMu.Unlock()
	return goJobs[name]
}

// JobSpec is a job submission (the body of POST /v1/jobs).
type JobSpec struct {
	// Name is the job's name (default: the SQL's 'pipeline.name', or the
	// Go job's name).
	Name string `json:"name,omitempty"`
	// SQL is a pipeline script (one INSERT or statement set), as `sluice
	// run` takes it. Exactly one of SQL and Go.
	SQL string `json:"sql,omitempty"`
	// Go is a registered Go job's name; Args its arguments.
	Go   string   `json:"go,omitempty"`
	Args []string `json:"args,omitempty"`
	// Savepoint, when set, is the savepoint (or checkpoint) directory the
	// job starts from.
	Savepoint string `json:"savepoint,omitempty"`
	// Config holds Flink's options (keys as Flink names them): the
	// restart strategy (restart-strategy.*), execution.checkpointing.interval
	// and parallelism.default. They override the script's SETs.
	Config map[string]string `json:"config,omitempty"`
}

// Job states, as Flink names them.
const (
	JobRunning    = "RUNNING"
	JobRestarting = "RESTARTING"
	JobFinished   = "FINISHED"
	JobFailed     = "FAILED"
	JobCanceled   = "CANCELED"
)

// JobException is a failure of a job: each restart's cause, and the last
// one when the restart strategy gave up.
type JobException struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
	// Restart is the job's restart count when it happened.
	Restart int `json:"restart"`
	// Final: the job failed for good (no restart followed).
	Final bool `json:"final"`
}

// JobSavepoint is a savepoint the service took of a job.
type JobSavepoint struct {
	Path string    `json:"path"`
	Time time.Time `json:"time"`
	// Stopped: taken when the job was stopped.
	Stopped bool `json:"stopped"`
}

// jobRecord is DIR/jobs/ID/job.json.
type jobRecord struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Spec      JobSpec   `json:"spec"`
	Submitted time.Time `json:"submitted"`
	// State is the job's state when it last changed; RUNNING means it is
	// to run (and is started again when the service opens).
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// RestoreFrom is the savepoint the job was last started from, and
	// RestoreAfter the newest checkpoint id before that start: a start
	// with no checkpoint newer than it uses the savepoint again.
	RestoreFrom  string `json:"restore_from,omitempty"`
	RestoreAfter int64  `json:"restore_after,omitempty"`
	// Restarts counts the restarts of the job's earlier runs.
	Restarts   int            `json:"restarts"`
	Exceptions []JobException `json:"exceptions,omitempty"`
	Savepoints []JobSavepoint `json:"savepoints,omitempty"`
}

// maxExceptions bounds the exceptions a job keeps.
const maxExceptions = 50

// managedJob is a job of the service and its current run.
type managedJob struct {
	m   *jobManager
	dir string

	mu  sync.Mutex
	rec jobRecord
	run *engine.Running // nil until started (and while not running)
	// last is the latest run, kept after it ended: its final figures.
	last *engine.Running
	// ended is closed when the current run has ended and been recorded.
	ended     chan struct{}
	stopping  bool // Stop or Close cancelled the run
	closing   bool // Close: the job stays RUNNING on disk
	saveMu    sync.Mutex
	saves     sync.WaitGroup // saves in flight from onEvent (Close waits)
	savepoint int            // savepoints taken (for the directory names)
}

// jobManager holds the service's jobs.
type jobManager struct {
	s    *Service
	root string

	mu   sync.Mutex
	jobs map[string]*managedJob
}

// ErrJobNotFound is the error of a call for a job that does not exist.
var ErrJobNotFound = errors.New("job not found")

// errJobState is a call the job's state does not allow (409).
var errJobState = errors.New("job state")

// SpecError is a job submission that is not valid: Field is the path of
// the field as it is written in the JSON ("config.restart-strategy.type").
type SpecError struct {
	Field, Message string
}

func (e *SpecError) Error() string { return e.Field + ": " + e.Message }

// StartError is a job that could not be planned or built: a SQL error
// (with its line, column and caret) or a Go job's build error.
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

func openJobs(s *Service) (*jobManager, error) {
	m := &jobManager{s: s, root: filepath.Join(s.opts.Dir, "jobs"), jobs: map[string]*managedJob{}}
	if err := os.MkdirAll(m.root, 0o755); err != nil {
		return nil, fmt.Errorf("service: jobs directory: %w", err)
	}
	ents, err := os.ReadDir(m.root)
	if err != nil {
		return nil, fmt.Errorf("service: jobs directory: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(m.root, e.Name())
		raw, err := os.ReadFile(filepath.Join(dir, "job.json"))
		if errors.Is(err, os.ErrNotExist) {
			continue // a submission that never completed
		}
		if err != nil {
			return nil, fmt.Errorf("service: job %s: %w", e.Name(), err)
		}
		var rec jobRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, fmt.Errorf("service: job %s: job.json: %w", e.Name(), err)
		}
		mj := &managedJob{m: m, dir: dir, rec: rec, ended: closedChan()}
		mj.savepoint = len(rec.Savepoints)
		m.jobs[rec.ID] = mj
	}
	return m, nil
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// resumeAll starts every job recorded as RUNNING. A job that cannot
// start is recorded FAILED with the reason.
func (m *jobManager) resumeAll() {
	m.mu.Lock()
	var jobs []*managedJob
	for _, j := range m.jobs {
		jobs = append(jobs, j)
	}
	m.mu.Unlock()
	for _, j := range jobs {
		j.mu.Lock()
		st := j.rec.State
		j.mu.Unlock()
		if st != JobRunning && st != JobRestarting {
			continue
		}
		if err := j.start(); err != nil {
			j.fail(err)
		}
	}
}

// submit validates spec, starts the job and records it.
func (m *jobManager) submit(spec JobSpec) (*managedJob, error) {
	if err := validateSpec(spec); err != nil {
		return nil, err
	}
	id := session.NewJobID()
	dir := filepath.Join(m.root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("job directory: %w", err)
	}
	name := spec.Name
	if name == "" {
		name = spec.Go
	}
	j := &managedJob{m: m, dir: dir, ended: closedChan(), rec: jobRecord{
		ID: id, Name: name, Spec: spec, Submitted: time.Now().UTC(), State: JobRunning, RestoreFrom: spec.Savepoint,
	}}
	if err := j.start(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	m.mu.Lock()
	m.jobs[id] = j
	m.mu.Unlock()
	return j, nil
}

// get returns the job with id, or ErrJobNotFound.
func (m *jobManager) get(id string) (*managedJob, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.jobs[id]
	if j == nil {
		return nil, fmt.Errorf("%w: job %q not found", ErrJobNotFound, id)
	}
	return j, nil
}

// list returns the jobs, oldest submission first.
func (m *jobManager) list() []*managedJob {
	m.mu.Lock()
	out := make([]*managedJob, 0, len(m.jobs))
	for _, j := range m.jobs {
		out = append(out, j)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b *managedJob) int {
		if c := a.rec.Submitted.Compare(b.rec.Submitted); c != 0 {
			return c
		}
		return strings.Compare(a.rec.ID, b.rec.ID)
	})
	return out
}

func validateSpec(spec JobSpec) error {
	switch {
	case spec.SQL == "" && spec.Go == "":
		return &SpecError{Field: "sql", Message: `one of "sql" and "go" is required`}
	case spec.SQL != "" && spec.Go != "":
		return &SpecError{Field: "go", Message: `"sql" and "go" exclude each other`}
	case spec.Go != "" && goJob(spec.Go) == nil:
		known := strings.Join(RegisteredJobs(), ", ")
		if known == "" {
			known = "none"
		}
		return &SpecError{Field: "go", Message: fmt.Sprintf("no Go job %q is registered (registered: %s)", spec.Go, known)}
	case spec.SQL == "" && len(spec.Args) > 0:
		// fine: args of a Go job
	case spec.SQL != "" && len(spec.Args) > 0:
		return &SpecError{Field: "args", Message: `"args" are a Go job's; a SQL job has none`}
	}
	if spec.Savepoint != "" {
		if _, err := os.Stat(spec.Savepoint); err != nil {
			return &SpecError{Field: "savepoint", Message: fmt.Sprintf("%q is not a savepoint directory: %v", spec.Savepoint, err)}
		}
	}
	_, err := jobSettings(nil, spec.Config)
	return err
}

// checkpointDir is where the job's checkpoints go.
func (j *managedJob) checkpointDir() string { return filepath.Join(j.dir, "checkpoints") }

// latestCheckpoint is the newest completed checkpoint's id (0 none).
func (j *managedJob) latestCheckpoint() int64 {
	ids, err := engine.LocalStorage{Dir: j.checkpointDir()}.List()
	if err != nil || len(ids) == 0 {
		return 0
	}
	return ids[0]
}

// save writes the job's record durably.
func (j *managedJob) save() error {
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	j.mu.Lock()
	b, err := json.MarshalIndent(j.rec, "", "  ")
	j.mu.Unlock()
	if err != nil {
		return fmt.Errorf("job %s: %w", j.rec.ID, err)
	}
	if err := durable.WriteFile(filepath.Join(j.dir, "job.json"), b, 0o644); err != nil {
		return fmt.Errorf("job %s: record: %w", j.rec.ID, err)
	}
	return nil
}

func (j *managedJob) logErr(err error) {
	if err != nil && j.m.s.opts.ErrorLog != nil {
		j.m.s.opts.ErrorLog("%v", err)
	}
}

// start starts a run of the job from its latest checkpoint, or from
// RestoreFrom when no checkpoint is newer than RestoreAfter.
func (j *managedJob) start() error {
	j.mu.Lock()
	rec := j.rec
	j.mu.Unlock()
	restore := ""
	if rec.RestoreFrom != "" && j.latestCheckpoint() <= rec.RestoreAfter {
		restore = rec.RestoreFrom
	}
	s := j.m.s
	configure := func(cfg *engine.Config, settings map[string]string) error {
		js, err := jobSettings(settings, rec.Spec.Config)
		if err != nil {
			return err
		}
		if js.interval > 0 {
			cfg.Checkpoint.Interval = js.interval
		}
		if cfg.Checkpoint.Interval == 0 {
			cfg.Checkpoint.Interval = s.opts.JobCheckpointInterval
		}
		if js.parallelism > 0 {
			cfg.Parallelism = js.parallelism
		}
		cfg.Restart = js.restart
		cfg.Checkpoint.Dir = j.checkpointDir()
		cfg.Checkpoint.Resume = true
		cfg.Checkpoint.RestoreFrom = restore
		cfg.StateDir = filepath.Join(j.dir, "state")
		cfg.Events = j.onEvent
		return nil
	}
	var run *engine.Running
	var ended <-chan struct{}
	if rec.Spec.SQL != "" {
		src := rec.Spec.SQL
		stmts, err := parser.Parse(src)
		if err != nil {
			return &StartError{err}
		}
		if n := len(session.SplitJobs(src, stmts)); n > 1 {
			return &SpecError{Field: "sql", Message: fmt.Sprintf("the script runs %d jobs one after another; submit each INSERT (or one EXECUTE STATEMENT SET) as a job of its own", n)}
		}
		prog, err := planner.Plan(src)
		if err != nil {
			return &StartError{err}
		}
		if !prog.HasJob() {
			return errors.Join(&SpecError{Field: "sql", Message: "the script runs no job (no INSERT INTO or statement set)"}, prog.Close())
		}
		var cerr error
		sj, err := session.Start(prog, rec.ID, prog.JobName(rec.Name), session.JobOptions{
			DataDir: s.opts.Dir, Logs: map[string]*shardlog.Log{filepath.Join(s.opts.Dir, "log"): s.log},
			CheckpointDir: j.checkpointDir(), Resume: true,
			Configure: func(cfg *engine.Config) { cerr = configure(cfg, prog.Catalog.Settings) },
		})
		if cerr != nil {
			if sj != nil {
				sj.Cancel()
				sj.Wait()
			}
			return cerr
		}
		if err != nil {
			return &StartError{err}
		}
		if rec.Name == "" {
			j.mu.Lock()
			j.rec.Name = sj.Name
			j.mu.Unlock()
		}
		run, ended = sj.Running(), sj.Done()
	} else {
		cfg := engine.Config{}
		if err := configure(&cfg, nil); err != nil {
			return err
		}
		ej := engine.NewJob(rec.Name, cfg)
		if err := goJob(rec.Spec.Go)(context.Background(), JobEnv{Log: s.log, Dir: j.dir}, ej, rec.Spec.Args); err != nil {
			return &StartError{fmt.Errorf("Go job %q: %w", rec.Spec.Go, err)}
		}
		r, err := ej.Start(context.Background())
		if err != nil {
			return &StartError{err}
		}
		run, ended = r, r.Done()
	}
	done := make(chan struct{})
	j.mu.Lock()
	j.run, j.last, j.ended, j.stopping, j.closing = run, run, done, false, false
	j.rec.State, j.rec.Started, j.rec.Ended = JobRunning, time.Now().UTC(), time.Time{}
	j.mu.Unlock()
	if err := j.save(); err != nil {
		run.Cancel()
		<-ended
		close(done)
		return err
	}
	go j.watch(run, ended, done)
	return nil
}

// onEvent keeps each restart's cause (Config.Events: must not block).
func (j *managedJob) onEvent(e engine.Event) {
	if e.Kind != engine.EventRestarting || e.Err == nil {
		return
	}
	j.mu.Lock()
	j.addException(JobException{Time: e.Time.UTC(), Message: e.Err.Error(), Restart: j.rec.Restarts + e.Attempt})
	j.mu.Unlock()
	j.saves.Add(1)
	go func() {
		defer j.saves.Done()
		j.logErr(j.save())
	}()
}

// addException appends an exception; j.mu held.
func (j *managedJob) addException(x JobException) {
	j.rec.Exceptions = append(j.rec.Exceptions, x)
	if n := len(j.rec.Exceptions); n > maxExceptions {
		j.rec.Exceptions = j.rec.Exceptions[n-maxExceptions:]
	}
}

// watch records how a run ended.
func (j *managedJob) watch(run *engine.Running, ended <-chan struct{}, done chan struct{}) {
	<-ended
	err := run.Wait()
	j.mu.Lock()
	j.rec.Restarts += run.Attempt()
	j.rec.Ended = time.Now().UTC()
	switch {
	case j.closing:
		// The service is closing: the job runs again when it opens.
		j.rec.State = JobRunning
	case err == nil:
		j.rec.State = JobFinished
	case j.stopping && errors.Is(err, engine.ErrJobCancelled):
		j.rec.State = JobCanceled
	default:
		j.rec.State = JobFailed
		j.addException(JobException{Time: j.rec.Ended, Message: err.Error(), Restart: j.rec.Restarts, Final: true})
	}
	j.run = nil
	j.mu.Unlock()
	j.logErr(j.save())
	close(done)
}

// fail records a job that could not start.
func (j *managedJob) fail(err error) {
	j.mu.Lock()
	j.rec.State, j.rec.Ended = JobFailed, time.Now().UTC()
	j.addException(JobException{Time: j.rec.Ended, Message: err.Error(), Restart: j.rec.Restarts, Final: true})
	j.mu.Unlock()
	j.logErr(j.save())
}

// running returns the job's run, or an errJobState error naming its state.
func (j *managedJob) running() (*engine.Running, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.run == nil {
		return nil, fmt.Errorf("%w: job %q is %s, not RUNNING", errJobState, j.rec.ID, j.rec.State)
	}
	return j.run, nil
}

// takeSavepoint takes a savepoint of the running job into a new
// directory under savepoints/ and records it.
func (j *managedJob) takeSavepoint(ctx context.Context, stopped bool) (JobSavepoint, error) {
	run, err := j.running()
	if err != nil {
		return JobSavepoint{}, err
	}
	j.mu.Lock()
	j.savepoint++
	path := filepath.Join(j.dir, "savepoints", fmt.Sprintf("savepoint-%d", j.savepoint))
	j.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return JobSavepoint{}, fmt.Errorf("savepoint: %w", err)
	}
	if err := run.Savepoint(ctx, path); err != nil {
		return JobSavepoint{}, fmt.Errorf("job %s: savepoint: %w", j.rec.ID, err)
	}
	sp := JobSavepoint{Path: path, Time: time.Now().UTC(), Stopped: stopped}
	j.mu.Lock()
	j.rec.Savepoints = append(j.rec.Savepoints, sp)
	j.mu.Unlock()
	return sp, j.save()
}

// stop stops the running job, after a savepoint when savepoint is set.
func (j *managedJob) stop(ctx context.Context, savepoint bool) (*JobSavepoint, error) {
	run, err := j.running()
	if err != nil {
		return nil, err
	}
	var sp *JobSavepoint
	if savepoint {
		s, err := j.takeSavepoint(ctx, true)
		if err != nil {
			return nil, err
		}
		sp = &s
	}
	j.mu.Lock()
	j.stopping = true
	done := j.ended
	j.mu.Unlock()
	run.Cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return sp, ctx.Err()
	}
	return sp, nil
}

// resume starts a job that is not running again: from the savepoint
// from, else from the savepoint it was stopped with (when no checkpoint
// was taken since), else from its latest checkpoint.
func (j *managedJob) resume(from string) error {
	j.mu.Lock()
	if j.run != nil {
		j.mu.Unlock()
		return fmt.Errorf("%w: job %q is already RUNNING", errJobState, j.rec.ID)
	}
	if j.rec.State == JobFinished {
		j.mu.Unlock()
		return fmt.Errorf("%w: job %q is FINISHED: its input ended", errJobState, j.rec.ID)
	}
	j.mu.Unlock()
	if from != "" {
		if _, err := os.Stat(from); err != nil {
			return &SpecError{Field: "savepoint", Message: fmt.Sprintf("%q is not a savepoint directory: %v", from, err)}
		}
	}
	latest := j.latestCheckpoint()
	j.mu.Lock()
	if from == "" && len(j.rec.Savepoints) > 0 {
		if last := j.rec.Savepoints[len(j.rec.Savepoints)-1]; last.Stopped && !last.Time.Before(j.rec.Started) {
			from = last.Path
		}
	}
	if from != "" {
		j.rec.RestoreFrom, j.rec.RestoreAfter = from, latest
	}
	j.mu.Unlock()
	return j.start()
}

// closeAll takes a last checkpoint of every running job and stops it;
// the jobs stay RUNNING on disk, so that the next Open resumes them.
func (m *jobManager) closeAll(ctx context.Context) error {
	var errs []error
	for _, j := range m.list() {
		j.mu.Lock()
		run, done := j.run, j.ended
		if run != nil {
			j.closing = true
		}
		j.mu.Unlock()
		if run == nil {
			if done != nil {
				<-done // a run that just ended is still being recorded
			}
			j.saves.Wait()
			continue
		}
		select {
		case <-run.Done():
		default:
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			if _, err := run.TriggerCheckpoint(cctx); err != nil && !errors.Is(err, engine.ErrJobCancelled) {
				errs = append(errs, fmt.Errorf("job %s: last checkpoint: %w", j.rec.ID, err))
			}
			cancel()
		}
		run.Cancel()
		<-done
		j.saves.Wait()
	}
	return errors.Join(errs...)
}

// snapshot returns a copy of the job's record, its run (nil when not
// running) and its latest run (kept after it ended, for its figures).
func (j *managedJob) snapshot() (rec jobRecord, run, last *engine.Running) {
	j.mu.Lock()
	defer j.mu.Unlock()
	rec = j.rec
	rec.Exceptions = slices.Clone(rec.Exceptions)
	rec.Savepoints = slices.Clone(rec.Savepoints)
	return rec, j.run, j.last
}
