package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// screen is what a terminal shows a user of the shell: the pty's output
// with the terminal's control sequences taken out.
type screen struct {
	mu   sync.Mutex
	text strings.Builder
	pos  int // where the next expect starts looking
	done chan struct{}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r`)

func readScreen(f *os.File) *screen {
	s := &screen{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			if n > 0 {
				s.mu.Lock()
				s.text.Write(b[:n])
				s.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *screen) plain() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.ReplaceAllString(s.text.String(), "")
}

// expect waits until the screen shows want after what earlier expects
// matched, and moves past it; it fails the test after a deadline.
func (s *screen) expect(t *testing.T, want string) {
	t.Helper()
	s.expectRe(t, regexp.MustCompile(regexp.QuoteMeta(want)))
}

func (s *screen) expectRe(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		p := s.plain()
		if s.pos > len(p) {
			s.pos = len(p)
		}
		if loc := re.FindStringSubmatchIndex(p[s.pos:]); loc != nil {
			m := re.FindStringSubmatch(p[s.pos:])
			s.pos += loc[1]
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen does not show %q; after the last match it shows:\n%s", re, p[s.pos:])
		}
		select {
		case <-s.done:
			if !re.MatchString(s.plain()[s.pos:]) {
				t.Fatalf("the shell ended without showing %q; it showed:\n%s", re, s.plain()[s.pos:])
			}
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestSQLShellInTerminal types into `sluice sql` in a pseudo-terminal and
// reads the screen: a multi-line CREATE TABLE, tab completion of a table
// name, a bounded and a live SELECT, an INSERT into a print table, SHOW
// JOBS, STOP JOB WITH SAVEPOINT, a bad statement's caret, the history.
func TestSQLShellInTerminal(t *testing.T) {
	bin := sluiceBinary(t)
	dir := t.TempDir()
	hist := filepath.Join(dir, "history")
	cmd := exec.Command(bin, "sql", "--history", hist, "--dir", filepath.Join(dir, "session"))
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	sc := readScreen(f)
	typ := func(s string) {
		t.Helper()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	sc.expect(t, "Sluice SQL> ")

	// A statement over two lines: the continuation prompt, then done.
	typ("CREATE TABLE clicks (user_id BIGINT, url STRING)\r")
	sc.expect(t, "\n> ")
	typ("WITH ('connector' = 'datagen', 'fields.user_id.kind' = 'sequence', 'fields.user_id.start' = '1', 'fields.user_id.end' = '3', 'fields.url.length' = '4');\r")
	sc.expect(t, "[INFO] Execute statement succeeded.")
	sc.expect(t, "Sluice SQL> ")

	// Tab completes the table's name.
	typ("DESCRIBE cli\t")
	sc.expect(t, "DESCRIBE clicks")
	typ(";\r")
	sc.expect(t, "user_id | BIGINT | TRUE")
	sc.expect(t, "Sluice SQL> ")

	// A bounded SELECT: the result table, finished; q leaves it.
	typ("SELECT user_id * 10 AS x, url FROM clicks;\r")
	sc.expect(t, "| x  | url")
	sc.expect(t, "| 30 |")
	sc.expect(t, "Rows: 3  Status: FINISHED")
	typ("q")
	sc.expect(t, "Sluice SQL> ")

	// A live SELECT over an unbounded source: the row count grows while
	// it runs; Ctrl-C leaves the view and cancels the query.
	typ("CREATE TABLE ticks (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20', 'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '100000');\r")
	sc.expect(t, "[INFO] Execute statement succeeded.")
	typ("SELECT n FROM ticks WHERE MOD(n, 2) = 0;\r")
	sc.expect(t, "Rows: 1  Status: RUNNING")
	sc.expect(t, "Rows: 3  Status: RUNNING")
	typ("\x03")
	sc.expect(t, "Sluice SQL> ")

	// An INSERT is a background job with an id; its print output shows.
	typ("CREATE TABLE out_t (x BIGINT) WITH ('connector' = 'print');\r")
	sc.expect(t, "[INFO] Execute statement succeeded.")
	typ("INSERT INTO out_t SELECT user_id + 100 FROM clicks;\r")
	id := sc.expectRe(t, regexp.MustCompile(`Job ID: ([0-9a-f]{32})`))[1]
	sc.expect(t, "+I[103]")
	// The job ends once its sink has closed: SHOW JOBS until it says so.
	finished := regexp.MustCompile(regexp.QuoteMeta(id) + ` \| INSERT INTO out_t SELECT user_id \+ 100 FROM clicks +\| (\w+) `)
	for deadline := time.Now().Add(60 * time.Second); ; {
		typ("SHOW JOBS;\r")
		if st := sc.expectRe(t, finished)[1]; st == "FINISHED" {
			break
		} else if st != "RUNNING" || time.Now().After(deadline) {
			t.Fatalf("the INSERT job is %s", st)
		}
		sc.expect(t, "Sluice SQL> ")
	}
	sc.expect(t, "Sluice SQL> ")

	// STOP JOB WITH SAVEPOINT on a running job prints the savepoint's
	// path; the job is then CANCELED.
	typ("CREATE TABLE sink_b (n BIGINT) WITH ('connector' = 'blackhole');\r")
	sc.expect(t, "[INFO] Execute statement succeeded.")
	typ("INSERT INTO sink_b SELECT n FROM ticks;\r")
	id = sc.expectRe(t, regexp.MustCompile(`Job ID: ([0-9a-f]{32})`))[1]
	typ("STOP JOB '" + id + "' WITH SAVEPOINT;\r")
	sc.expect(t, "| savepoint path")
	sp := sc.expectRe(t, regexp.MustCompile(`\| (\S+/savepoints/savepoint-\S+) +\|`))[1]
	if _, err := os.Stat(sp); err != nil {
		t.Fatalf("the savepoint shown is not there: %v", err)
	}
	typ("SHOW JOBS;\r")
	sc.expectRe(t, regexp.MustCompile(regexp.QuoteMeta(id)+` \| INSERT INTO sink_b SELECT n FROM ticks +\| CANCELED`))

	// A bad statement: the error with its caret, and the shell goes on.
	typ("SELECT nope FROM clicks;\r")
	sc.expect(t, "[ERROR] Could not execute SQL statement. Reason:")
	sc.expect(t, "line 1, column 8: Column 'nope' not found")
	sc.expect(t, "  SELECT nope FROM clicks;\n         ^~~~")
	sc.expect(t, "Sluice SQL> ")
	typ("SHOW TABLES;\r")
	sc.expect(t, "clicks\nout_t\nsink_b\nticks")

	// The up arrow brings back the last line.
	typ("\x1b[A")
	sc.expect(t, "Sluice SQL> SHOW TABLES;")
	typ("\r")
	sc.expect(t, "clicks\nout_t\nsink_b\nticks")

	typ("QUIT;\r")
	sc.expect(t, "Shutting down the session...")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice sql: %v\n%s", err, sc.plain())
	}
	exited = true
	h, err := os.ReadFile(hist)
	if err != nil || !strings.Contains(string(h), "DESCRIBE clicks;\n") || !strings.Contains(string(h), "SHOW TABLES;\n") {
		t.Fatalf("history file: %v\n%s", err, h)
	}
}
