package parser

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/sql/ast"
)

// FuzzParse feeds the parser arbitrary text, seeded from every input of the
// golden tests. The parser must not panic or hang; every error must point
// inside the input; and whatever parses must print back to SQL that parses
// to the same tree.
func FuzzParse(f *testing.F) {
	for _, s := range corpus(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		done := make(chan struct{})
		var stmts []ast.Statement
		var err error
		go func() {
			defer close(done)
			stmts, err = Parse(src)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Parse did not return within 10s for %q", src)
		}
		if err != nil {
			checkErrorPositions(t, src, err)
			return
		}
		for _, s := range stmts {
			checkSpans(t, src, s)
		}
		checkRoundTrip(t, "fuzz", src, stmts)
	})
}

// TestDepthLimits builds inputs nested past MaxDepth in each kind of
// recursion and requires a clear error instead of a crash.
func TestDepthLimits(t *testing.T) {
	n := MaxDepth + 10
	cases := map[string]string{
		"parentheses": "SELECT " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n),
		"unary minus": "SELECT " + strings.Repeat("- ", n) + "1",
		"NOT":         "SELECT " + strings.Repeat("NOT ", n) + "TRUE",
		"subqueries":  strings.Repeat("SELECT * FROM (", n) + "SELECT 1" + strings.Repeat(")", n),
		"types":       "CREATE TABLE t (a " + strings.Repeat("ARRAY<", n) + "INT" + strings.Repeat(">", n) + ")",
		"patterns":    "SELECT * FROM t MATCH_RECOGNIZE (PATTERN (" + strings.Repeat("(", n) + "A" + strings.Repeat(")", n) + ") DEFINE A AS TRUE)",
		"calls":       "SELECT " + strings.Repeat("f(", n) + "1" + strings.Repeat(")", n),
		"chain":       "SELECT 1" + strings.Repeat(" + 1", MaxDepth*20+10),
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(src)
			if err == nil {
				t.Fatal("no error")
			}
			checkErrorPositions(t, src, err)
			if msg := err.Error(); !strings.Contains(msg, "too deeply nested") && !strings.Contains(msg, "too long") {
				t.Fatalf("unexpected error: %.200s", msg)
			}
		})
	}
	// Just under the limits still parses, and prints back.
	ok := []string{
		"SELECT " + strings.Repeat("(", MaxDepth/2) + "1" + strings.Repeat(")", MaxDepth/2),
		"SELECT 1" + strings.Repeat(" + 1", MaxDepth*10),
		"SELECT a FROM t WHERE " + strings.Repeat("a = 1 OR ", 300) + "a = 2",
	}
	for _, src := range ok {
		stmts, err := Parse(src)
		if err != nil {
			t.Fatalf("%.60s...: %.300v", src, err)
		}
		checkRoundTrip(t, "depth", src, stmts)
	}
}
