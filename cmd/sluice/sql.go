package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/session"
)

func init() {
	register(&command{
		name:    "sql",
		summary: "the interactive SQL shell (or -f FILE.sql): DDL, SELECT with a live result, INSERT as background jobs, SHOW JOBS, STOP JOB",
		run:     runShell,
	})
}

const (
	shellPrompt = "Sluice SQL> "
	contPrompt  = "> "
)

// runShell is `sluice sql [-f FILE.sql] [--dir DIR]`.
func runShell(ctx context.Context, args []string, stdout, stderr io.Writer) (rerr error) {
	fs := newFlagSet("sql", stderr)
	file := fs.String("f", "", "run the statements of this file and exit, as Flink's SQL client's -f")
	dir := fs.String("dir", "", "the session's directory: checkpoints, savepoints and the data of shardlog tables (default: a temporary directory, removed at exit)")
	history := fs.String("history", "", "the history file (default: sluice/sql_history under the user's config directory)")
	setUsage(fs, "sluice sql [-f FILE.sql] [--dir DIR]",
		"An interactive Flink-dialect SQL shell: statements end at ';'; CREATE TABLE, SET, SHOW, DESCRIBE and EXPLAIN run at once, a SELECT shows its live result (q or Ctrl-C leaves it), an INSERT starts a background job; SHOW JOBS, STOP JOB '<id>' [WITH SAVEPOINT], SET 'execution.savepoint.path' = '<dir>'; QUIT; leaves.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "sluice-sql-")
		if err != nil {
			return fmt.Errorf("creating the session directory: %w", err)
		}
		defer func() {
			if err := os.RemoveAll(tmp); err != nil && rerr == nil {
				rerr = fmt.Errorf("removing the session directory: %w", err)
			}
		}()
		*dir = tmp
	}
	if *file != "" {
		src, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		return runShellFile(ctx, string(src), *file, *dir, stdout, stderr)
	}
	in, ok := os.Stdin, false
	if f, isF := stdout.(*os.File); isF && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(f.Fd())) {
		ok = true
	}
	if !ok {
		// Not a terminal: the statements on standard input, as -f.
		src, err := io.ReadAll(in)
		if err != nil {
			return err
		}
		return runShellFile(ctx, string(src), "<stdin>", *dir, stdout, stderr)
	}
	if *history == "" {
		cfg, err := os.UserConfigDir()
		if err != nil {
			return fmt.Errorf("finding the history file: %w (give --history)", err)
		}
		*history = filepath.Join(cfg, "sluice", "sql_history")
	}
	return interactive(ctx, in, stdout.(*os.File), *dir, *history)
}

// runShellFile runs a file's statements one after another: a query's
// final result is printed once it ends, INSERT jobs run in the background
// and are waited for at the end; the first error stops the run.
func runShellFile(ctx context.Context, src, name, dir string, stdout, stderr io.Writer) error {
	s := session.New(session.Options{Dir: dir, Stdout: stdout, Stderr: stderr})
	stmts, rest := session.Split(src)
	if strings.TrimSpace(stripComments(rest)) != "" {
		stmts = append(stmts, rest)
	}
	line := 1
	for _, st := range stmts {
		startLine := line + strings.Count(st[:len(st)-len(strings.TrimLeft(st, " \t\r\n"))], "\n")
		line += strings.Count(st, "\n")
		if strings.TrimSpace(stripComments(st)) == ";" || strings.TrimSpace(stripComments(st)) == "" {
			continue
		}
		if isQuit(st) {
			break
		}
		// Leading newlines keep the file's line numbers in errors.
		r, err := s.Execute(ctx, strings.Repeat("\n", startLine-1)+strings.TrimSpace(st))
		if err != nil {
			return errors.Join(fmt.Errorf("%s:\n%w", name, err), s.Close())
		}
		for _, l := range r.Output {
			fmt.Fprintln(stdout, l)
		}
		if r.Query != nil {
			select {
			case <-r.Query.Done():
			case <-ctx.Done():
				r.Query.Cancel()
			}
			if err := r.Query.Wait(); err != nil {
				return errors.Join(err, s.Close())
			}
			rows, _ := r.Query.Snapshot()
			for _, l := range session.Table(append([][]string{r.Query.Columns}, rows...)) {
				fmt.Fprintln(stdout, l)
			}
		}
	}
	// Background jobs run until they end; an interrupt cancels them.
	done := make(chan error, 1)
	go func() {
		var errs []error
		for _, j := range s.Jobs() {
			errs = append(errs, j.Wait())
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return s.Close()
	}
}

// stripComments blanks -- and /* */ comments (for telling an empty
// statement).
func stripComments(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "--"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			i += end + 3
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func isQuit(st string) bool {
	w := strings.ToUpper(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(st), ";")))
	return w == "QUIT" || w == "EXIT"
}

// keys reads the terminal's bytes on one goroutine, so that the line
// editor and the result view take turns reading them. Ctrl-C at the
// prompt is turned into "clear the line, enter" and flagged, so that it
// drops the statement being typed instead of ending the shell.
type keys struct {
	ch     chan []byte
	err    error
	mu     sync.Mutex
	intr   bool
	buf    []byte
	prompt bool // bytes go to the line editor
}

func newKeys(r io.Reader) *keys {
	k := &keys{ch: make(chan []byte, 16)}
	go func() {
		for {
			b := make([]byte, 256)
			n, err := r.Read(b)
			if n > 0 {
				k.ch <- b[:n]
			}
			if err != nil {
				k.err = err
				close(k.ch)
				return
			}
		}
	}()
	return k
}

// Read is the line editor's.
func (k *keys) Read(p []byte) (int, error) {
	if len(k.buf) == 0 {
		b, ok := <-k.ch
		if !ok {
			return 0, io.EOF
		}
		var out []byte
		for _, c := range b {
			if c == 3 { // Ctrl-C
				k.mu.Lock()
				k.intr = true
				k.mu.Unlock()
				out = append(out, 21, '\r') // Ctrl-U, Enter
				continue
			}
			out = append(out, c)
		}
		k.buf = out
	}
	n := copy(p, k.buf)
	k.buf = k.buf[n:]
	return n, nil
}

// interrupted reports (and clears) a Ctrl-C at the prompt.
func (k *keys) interrupted() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	i := k.intr
	k.intr = false
	return i
}

// fileHistory is the line editor's history, kept in a file: the newest
// line last. At(0) is the newest.
type fileHistory struct {
	path  string
	lines []string
}

const historyMax = 1000

func loadHistory(path string) *fileHistory {
	h := &fileHistory{path: path}
	f, err := os.Open(path)
	if err != nil {
		return h // no history yet
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			h.lines = append(h.lines, l)
		}
	}
	if len(h.lines) > historyMax {
		h.lines = h.lines[len(h.lines)-historyMax:]
	}
	return h
}

// Add appends a line to the history and its file (best effort: a shell
// whose history cannot be written still works, and says so once).
func (h *fileHistory) Add(l string) {
	if strings.TrimSpace(l) == "" || (len(h.lines) > 0 && h.lines[len(h.lines)-1] == l) {
		return
	}
	h.lines = append(h.lines, l)
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(h.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	fmt.Fprintln(f, l)
	f.Close()
}

func (h *fileHistory) Len() int { return len(h.lines) }

func (h *fileHistory) At(i int) string { return h.lines[len(h.lines)-1-i] }

// termWriter sends the print output of background jobs through the line
// editor, which redraws the prompt under it.
type termWriter struct{ t *term.Terminal }

func (w termWriter) Write(p []byte) (int, error) { return w.t.Write(p) }

// interactive is the shell on a terminal.
func interactive(ctx context.Context, in, out *os.File, dir, history string) error {
	old, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return fmt.Errorf("setting the terminal to raw mode: %w", err)
	}
	defer term.Restore(int(in.Fd()), old)
	k := newKeys(in)
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{k, out}, shellPrompt)
	t.History = loadHistory(history)
	size := func() (int, int) {
		w, h, err := term.GetSize(int(out.Fd()))
		if err != nil || w <= 0 || h <= 0 {
			return 80, 24
		}
		return w, h
	}
	if w, h := size(); w > 0 {
		_ = t.SetSize(w, h)
	}
	s := session.New(session.Options{Dir: dir, Stdout: termWriter{t}, Stderr: termWriter{t}})
	defer s.Close()
	t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		if key != '\t' {
			return "", 0, false
		}
		return complete(s, t, line, pos)
	}
	fmt.Fprintf(t, "Sluice SQL shell. Statements end with ';'. QUIT; leaves. Session directory: %s\n\n", dir)
	var buf strings.Builder
	for {
		line, err := t.ReadLine()
		if err == io.EOF {
			fmt.Fprintln(t, "Shutting down the session...\ndone.")
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the terminal: %w", err)
		}
		if k.interrupted() {
			buf.Reset()
			t.SetPrompt(shellPrompt)
			continue
		}
		buf.WriteString(line)
		buf.WriteString("\n")
		stmts, rest := session.Split(buf.String())
		buf.Reset()
		if strings.TrimSpace(stripComments(rest)) != "" {
			buf.WriteString(rest)
		}
		for _, st := range stmts {
			if strings.TrimSpace(stripComments(st)) == ";" {
				continue
			}
			if isQuit(st) {
				fmt.Fprintln(t, "Shutting down the session...\ndone.")
				return nil
			}
			r, err := s.Execute(ctx, strings.TrimSpace(st))
			if err != nil {
				fmt.Fprintf(t, "[ERROR] Could not execute SQL statement. Reason:\n%v\n\n", err)
				continue
			}
			for _, l := range r.Output {
				fmt.Fprintln(t, l)
			}
			if r.Query != nil {
				if err := resultView(ctx, k, out, r.Query, size); err != nil {
					fmt.Fprintf(t, "[ERROR] The query failed. Reason:\n%v\n", err)
				}
			}
			fmt.Fprintln(t)
		}
		if buf.Len() > 0 {
			t.SetPrompt(contPrompt)
		} else {
			t.SetPrompt(shellPrompt)
		}
	}
}

// resultView shows a query's result table on the alternate screen,
// redrawn as its changelog changes it, until q, Esc or Ctrl-C, which
// cancel the query. It returns why the query failed, if it did.
func resultView(ctx context.Context, k *keys, out *os.File, q *session.Query, size func() (int, int)) error {
	fmt.Fprint(out, "\x1b[?1049h\x1b[?25l")
	defer fmt.Fprint(out, "\x1b[?25h\x1b[?1049l")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var drawn int64 = -1
	var drawnStatus session.Status
	draw := func() {
		rows, v := q.Snapshot()
		st := q.Status()
		if v == drawn && st == drawnStatus {
			return
		}
		drawn, drawnStatus = v, st
		w, h := size()
		lines := session.Table(append([][]string{q.Columns}, rows...))
		lines = lines[:len(lines)-1] // the row count is in the status line
		if max := h - 2; len(lines) > max {
			// The newest rows, under the header.
			lines = append(lines[:3:3], lines[len(lines)-(max-3):]...)
		}
		var b strings.Builder
		b.WriteString("\x1b[H\x1b[2J")
		for _, l := range lines {
			if len(l) > w {
				l = l[:w]
			}
			b.WriteString(l)
			b.WriteString("\r\n")
		}
		fmt.Fprintf(&b, "Rows: %d  Status: %s  Job: %s   Q, Esc or Ctrl-C: quit", len(rows), st, q.ID)
		fmt.Fprint(out, b.String())
	}
	draw()
	for {
		select {
		case b, ok := <-k.ch:
			if !ok || slices.ContainsFunc(b, func(c byte) bool { return c == 'q' || c == 'Q' || c == 3 || c == 27 }) {
				q.Cancel()
				return q.Wait()
			}
		case <-tick.C:
			draw()
		case <-ctx.Done():
			q.Cancel()
			return q.Wait()
		}
	}
}

// complete completes the word before pos: a keyword, a table, a column
// of a table, or a function. One candidate is filled in; several fill in
// their common prefix, or are listed.
func complete(s *session.Session, t *term.Terminal, line string, pos int) (string, int, bool) {
	start := pos
	for start > 0 && isWordByte(line[start-1]) {
		start--
	}
	word := line[start:pos]
	if word == "" {
		return "", 0, false
	}
	var cands []string
	add := func(c string) {
		if len(c) >= len(word) && strings.EqualFold(c[:len(word)], word) && !slices.Contains(cands, c) {
			cands = append(cands, c)
		}
	}
	cat := s.Catalog()
	for _, n := range append(cat.TableNames(), cat.ViewNames()...) {
		add(n)
	}
	for _, n := range cat.TableNames() {
		if tb, err := cat.Lookup(n, diag.Span{}); err == nil {
			for _, c := range tb.Columns {
				add(c.Name)
			}
		}
	}
	upper := word == strings.ToUpper(word)
	for _, kw := range append(ast.ReservedWords(), "JOBS", "JOB", "SAVEPOINT", "TABLES", "VIEWS", "STOP") {
		if !upper {
			kw = strings.ToLower(kw)
		}
		add(kw)
	}
	for _, f := range functions.Builtins().Names() {
		if !upper {
			f = strings.ToLower(f)
		}
		add(f)
	}
	switch len(cands) {
	case 0:
		return "", 0, false
	case 1:
		return line[:start] + cands[0] + line[pos:], start + len(cands[0]), true
	}
	common := cands[0]
	for _, c := range cands[1:] {
		n := 0
		for n < len(common) && n < len(c) && strings.EqualFold(common[n:n+1], c[n:n+1]) {
			n++
		}
		common = common[:n]
	}
	if len(common) > len(word) {
		return line[:start] + common + line[pos:], start + len(common), true
	}
	slices.Sort(cands)
	if len(cands) > 40 {
		cands = append(cands[:40], "...")
	}
	// The editor's lock is not held here; Write redraws the prompt.
	fmt.Fprintln(t, strings.Join(cands, "  "))
	return "", 0, false
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
