// Package session is the SQL job runner shared by `sluice run` and the
// interactive `sluice sql` shell: one catalog across statements (DDL, SET,
// views), SHOW/DESCRIBE/EXPLAIN answered at once, each INSERT or statement
// set started as a background job with an id, a query (SELECT) started as
// a job whose changelog is applied to a result table, SHOW JOBS, STOP JOB
// 'id' [WITH SAVEPOINT], and jobs started from a savepoint with SET
// 'execution.savepoint.path', as Flink's SQL client.
//
// A session keeps the text of the statements that shape its catalog (the
// DDL and SETs that succeeded) and plans each new statement after them, so
// the planner sees one script; an error's line and column are given
// within the statement the user typed.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/planner"
)

// SavepointPathKey is the setting that makes the next jobs start from a
// savepoint, as in Flink's SQL client.
const SavepointPathKey = "execution.savepoint.path"

// Options configure a session.
type Options struct {
	// Dir is the session's directory: its jobs' checkpoints
	// (<Dir>/checkpoints/<job id>), savepoints (<Dir>/savepoints) and
	// data (<Dir>/data: the built-in log of shardlog tables, error
	// outputs).
	Dir string
	// Stdout and Stderr take the print connector's rows of background
	// jobs.
	Stdout, Stderr io.Writer
	// MaxResultRows bounds a query's result table (default 10000): past
	// it the oldest rows are dropped, as Flink's
	// sql-client.execution.max-table-result.rows.
	MaxResultRows int
}

// Session runs statements one at a time against one catalog. Its methods
// are safe for concurrent use.
type Session struct {
	o Options

	mu        sync.Mutex
	script    strings.Builder // the catalog's statements so far, each ending in "\n"
	lines     int             // lines in script
	savepoint string          // 'execution.savepoint.path'
	jobs      []*Job
	catalog   *catalog.Catalog // after the script, for completion
}

// New starts a session.
func New(o Options) *Session {
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.MaxResultRows <= 0 {
		o.MaxResultRows = 10000
	}
	return &Session{o: o, catalog: catalog.New("")}
}

// Result is what a statement did.
type Result struct {
	// Output are lines to show: SHOW and DESCRIBE listings, EXPLAIN's
	// plan, SHOW JOBS, a savepoint's path, [INFO] lines.
	Output []string
	// Job is the background job an INSERT or statement set started.
	Job *Job
	// Query is the running query of a SELECT.
	Query *Query
}

// Split splits text into statements at the semicolons that end them
// (outside strings, quoted names and comments), each with its ';'. The
// rest after the last ';' is returned apart: an interactive client waits
// for more lines when it is not blank.
func Split(text string) (stmts []string, rest string) {
	start := 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(text) {
				if text[j] == c {
					if j+1 < len(text) && text[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j
		case c == '-' && i+1 < len(text) && text[i+1] == '-':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				i = len(text)
			} else {
				i += 2 + end + 1
			}
		case c == ';':
			stmts = append(stmts, text[start:i+1])
			start = i + 1
		}
	}
	if start < len(text) {
		rest = text[start:]
	}
	return stmts, rest
}

// Execute runs one statement (its text may end with ';'). Errors are
// *diag.Error (or diag.ErrorList) with positions within text.
func (s *Session) Execute(ctx context.Context, text string) (*Result, error) {
	stmts, err := parser.Parse(text)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, fmt.Errorf("want one statement, got %d", len(stmts))
	}
	st := stmts[0]
	switch x := st.(type) {
	case *ast.Show:
		if x.What == "JOBS" {
			return &Result{Output: s.showJobs()}, nil
		}
	case *ast.StopJob:
		return s.stopJob(ctx, text, x)
	case *ast.Set:
		if x.Key != nil && x.Key.Value == SavepointPathKey {
			if x.Value == nil {
				return nil, diag.New(text, x.Span(), "SET '%s' needs a value", SavepointPathKey)
			}
			s.mu.Lock()
			s.savepoint = x.Value.Value
			s.mu.Unlock()
			return &Result{Output: []string{"[INFO] Execute statement succeeded."}}, nil
		}
	case *ast.Reset:
		if x.Key != nil && x.Key.Value == SavepointPathKey {
			s.mu.Lock()
			s.savepoint = ""
			s.mu.Unlock()
			return &Result{Output: []string{"[INFO] Execute statement succeeded."}}, nil
		}
	}
	s.mu.Lock()
	prefix, lines := s.script.String(), s.lines
	s.mu.Unlock()
	prog, err := planner.Plan(prefix + text)
	if errors.Is(err, planner.ErrNoJob) && shapesCatalog(st) {
		// DDL alone has nothing to run: plan it with a listing, to
		// check it and to keep its catalog.
		// With no table yet, SHOW TABLES lists nothing: still no job.
		if prog, err = planner.Plan(prefix + text + "\nSHOW TABLES;"); errors.Is(err, planner.ErrNoJob) {
			prog, err = &planner.Program{Catalog: catalog.New("")}, nil
		}
	}
	if err != nil {
		return nil, rebase(err, len(prefix), lines)
	}
	if shapesCatalog(st) {
		s.mu.Lock()
		s.script.WriteString(text)
		s.script.WriteString("\n")
		s.lines += strings.Count(text, "\n") + 1
		s.catalog = prog.Catalog
		s.mu.Unlock()
		return &Result{Output: []string{"[INFO] Execute statement succeeded."}}, nil
	}
	if !prog.HasJob() {
		return &Result{Output: prog.Output}, nil
	}
	if prog.Explained {
		return &Result{Output: strings.Split(strings.TrimRight(prog.Explain(), "\n"), "\n")}, nil
	}
	if prog.Result() != nil {
		q, err := s.startQuery(prog, text)
		if err != nil {
			return nil, err
		}
		return &Result{Query: q}, nil
	}
	job, err := s.startJob(prog, text, JobOptions{})
	if err != nil {
		return nil, err
	}
	return &Result{Job: job, Output: []string{
		"[INFO] Submitting SQL update statement to the cluster...",
		"[INFO] SQL update statement has been successfully submitted to the cluster:",
		"Job ID: " + job.ID,
	}}, nil
}

// shapesCatalog reports whether a statement changes the session's catalog
// or settings (and so is kept for the statements after it).
func shapesCatalog(st ast.Statement) bool {
	switch st.(type) {
	case *ast.CreateTable, *ast.CreateView, *ast.Drop, *ast.Set:
		return true
	}
	return false
}

// rebase moves the positions of the errors in err from the session's
// script (prefix bytes and lines, then the statement) to the statement.
func rebase(err error, prefix, lines int) error {
	fix := func(e *diag.Error) {
		if e.Span.Start.Offset < prefix || !e.Span.IsValid() {
			return
		}
		for _, p := range []*diag.Pos{&e.Span.Start, &e.Span.End} {
			if p.IsValid() {
				p.Offset -= prefix
				p.Line -= lines
			}
		}
	}
	var list diag.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fix(e)
		}
		return err
	}
	var e *diag.Error
	if errors.As(err, &e) {
		fix(e)
	}
	return err
}

// Catalog is the session's catalog as of its last DDL (read only: for
// completion and listings).
func (s *Session) Catalog() *catalog.Catalog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.catalog
}

// Jobs are the session's jobs, oldest first.
func (s *Session) Jobs() []*Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.jobs)
}

// Job finds a job by its id.
func (s *Session) Job(id string) (*Job, bool) {
	for _, j := range s.Jobs() {
		if j.ID == id {
			return j, true
		}
	}
	return nil, false
}

func (s *Session) startJob(prog *planner.Program, text string, o JobOptions) (*Job, error) {
	id := NewJobID()
	s.mu.Lock()
	sp := s.savepoint
	s.mu.Unlock()
	name := prog.JobName(jobName(text))
	o.Stdout, o.Stderr = s.o.Stdout, s.o.Stderr
	o.RestoreFrom = sp
	if s.o.Dir != "" {
		o.DataDir = filepath.Join(s.o.Dir, "data")
		o.CheckpointDir = filepath.Join(s.o.Dir, "checkpoints", id)
	}
	job, err := Start(prog, id, name, o)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.jobs = append(s.jobs, job)
	s.mu.Unlock()
	return job, nil
}

// jobName is a statement's first words, as Flink names a SQL client's
// jobs after their statement.
func jobName(text string) string {
	f := strings.Fields(text)
	n := strings.Join(f, " ")
	n = strings.TrimSuffix(n, ";")
	if len(n) > 60 {
		n = n[:57] + "..."
	}
	return n
}

// showJobs is SHOW JOBS: id, name, status, start time and records, as a
// table.
func (s *Session) showJobs() []string {
	rows := [][]string{{"job id", "job name", "status", "start time", "records in", "records out"}}
	for _, j := range s.Jobs() {
		in, out := j.Records()
		rows = append(rows, []string{j.ID, j.Name, string(j.Status()), j.Started.UTC().Format("2006-01-02 15:04:05.000"), fmt.Sprint(in), fmt.Sprint(out)})
	}
	return Table(rows)
}

// stopJob is STOP JOB 'id' [WITH SAVEPOINT].
func (s *Session) stopJob(ctx context.Context, text string, x *ast.StopJob) (*Result, error) {
	j, ok := s.Job(x.ID.Value)
	if !ok {
		return nil, diag.New(text, x.ID.Span(), "Could not stop job %s: no such job in this session", x.ID.Value)
	}
	if x.WithDrain {
		return nil, diag.New(text, x.Span(), "STOP JOB ... WITH DRAIN is not supported yet")
	}
	dir := ""
	if x.WithSavepoint {
		if s.o.Dir == "" {
			return nil, diag.New(text, x.Span(), "STOP JOB ... WITH SAVEPOINT needs a session directory for its savepoints")
		}
		dir = filepath.Join(s.o.Dir, "savepoints", fmt.Sprintf("savepoint-%s-%d", j.ID[:6], time.Now().UnixNano()))
	}
	if err := j.Stop(ctx, dir); err != nil {
		return nil, err
	}
	if dir != "" {
		return &Result{Output: Table([][]string{{"savepoint path"}, {dir}})}, nil
	}
	return &Result{Output: []string{"[INFO] Execute statement succeeded."}}, nil
}

// Close cancels the session's running jobs and waits for them to end.
func (s *Session) Close() error {
	var errs []error
	for _, j := range s.Jobs() {
		if j.Status() == Running {
			j.Cancel()
		}
		errs = append(errs, j.Wait())
	}
	return errors.Join(errs...)
}

// Table lays rows out as Flink's SQL client's tableau: a border, the
// header, a border, the rows, a border.
func Table(rows [][]string) []string {
	if len(rows) == 0 {
		return nil
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, f := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], len([]rune(f)))
			}
		}
	}
	border := "+"
	for _, w := range widths {
		border += strings.Repeat("-", w+2) + "+"
	}
	line := func(r []string) string {
		var b strings.Builder
		b.WriteString("|")
		for i, w := range widths {
			f := ""
			if i < len(r) {
				f = r[i]
			}
			fmt.Fprintf(&b, " %s%s |", f, strings.Repeat(" ", w-len([]rune(f))))
		}
		return b.String()
	}
	out := []string{border, line(rows[0]), border}
	for _, r := range rows[1:] {
		out = append(out, line(r))
	}
	out = append(out, border)
	if n := len(rows) - 1; n == 1 {
		out = append(out, "1 row in set")
	} else {
		out = append(out, fmt.Sprintf("%d rows in set", n))
	}
	return out
}
