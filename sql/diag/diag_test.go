package diag

import (
	"errors"
	"fmt"
	"testing"
)

func pos(off, line, col int) Pos { return Pos{Offset: off, Line: line, Col: col} }

func TestRender(t *testing.T) {
	src := "SELECT a\nFROM   t WHERE x\n"
	for _, tc := range []struct {
		name string
		err  *Error
		want string
	}{{
		name: "caret and underline",
		err:  &Error{Msg: `unexpected name t`, Expected: []string{"FROM", "GROUP BY", ";"}, Span: Span{pos(16, 2, 8), pos(17, 2, 9)}},
		want: "line 2, column 8: unexpected name t, expected FROM, GROUP BY or ;\n  FROM   t WHERE x\n         ^",
	}, {
		name: "span of a word, with a hint",
		err:  &Error{Msg: "unexpected WHERE", Hint: "try HAVING", Span: Span{pos(18, 2, 10), pos(23, 2, 15)}},
		want: "line 2, column 10: unexpected WHERE\n  FROM   t WHERE x\n           ^~~~~\n  hint: try HAVING",
	}, {
		name: "a span over two lines underlines to the end of the first",
		err:  &Error{Msg: "bad", Span: Span{pos(7, 1, 8), pos(13, 2, 5)}},
		want: "line 1, column 8: bad\n  SELECT a\n         ^",
	}, {
		name: "end of input after the last character",
		err:  &Error{Msg: "unexpected end of input", Span: Span{pos(25, 2, 17), pos(25, 2, 17)}},
		want: "line 2, column 17: unexpected end of input\n  FROM   t WHERE x\n                  ^",
	}, {
		name: "no position",
		err:  &Error{Msg: "something"},
		want: "something",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err.Span.IsValid() {
				tc.err.Line = LineAt(src, tc.err.Span.Start)
			}
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestTabsAndWideCharacters(t *testing.T) {
	src := "\tSELECT 'é', )"
	e := New(src, Span{pos(15, 1, 14), pos(16, 1, 15)}, "unexpected %q", ")")
	want := "line 1, column 14: unexpected \")\"\n  \tSELECT 'é', )\n  \t            ^"
	if got := e.Error(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestErrorList(t *testing.T) {
	src := "a\nb"
	l := ErrorList{New(src, Span{pos(0, 1, 1), pos(1, 1, 2)}, "first"), New(src, Span{pos(2, 2, 1), pos(3, 2, 2)}, "second")}
	want := "2 errors:\n\nline 1, column 1: first\n  a\n  ^\n\nline 2, column 1: second\n  b\n  ^"
	if got := l.Error(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	var e *Error
	if !errors.As(fmt.Errorf("wrapped: %w", l.Err()), &e) || e.Msg != "first" {
		t.Fatalf("errors.As found %v", e)
	}
	if got := Errors(fmt.Errorf("w: %w", l)); len(got) != 2 {
		t.Fatalf("Errors found %d", len(got))
	}
	if ErrorList(nil).Err() != nil {
		t.Fatal("an empty list is not nil as an error")
	}
	if one := (ErrorList{l[0]}); one.Error() != l[0].Error() {
		t.Fatal("a list of one renders as its error")
	}
}

func TestClosest(t *testing.T) {
	names := []string{"clicks", "click_counts", "users", "INT", "INTERVAL"}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"clikcs", "clicks", true},
		{"CLICKS", "clicks", true},
		{"user", "users", true},
		{"intt", "INT", true},
		{"orders", "", false},
		{"x", "", false},
	} {
		got, ok := Closest(tc.in, names)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Closest(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestJoinOr(t *testing.T) {
	for in, want := range map[int]string{0: "", 1: "a", 2: "a or b", 3: "a, b or c"} {
		if got := JoinOr([]string{"a", "b", "c"}[:in]); got != want {
			t.Errorf("JoinOr(%d) = %q, want %q", in, got, want)
		}
	}
}
