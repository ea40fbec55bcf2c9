// Package diag holds the positions and the error type of Sluice's SQL layer.
//
// Every stage that reads a SQL script — the parser, and after it the catalog,
// the type checker and the planner — reports problems as an *Error: a message,
// the span of source text it is about, and (for syntax errors) what would have
// been accepted there. Error() renders the position, the message, the source
// line and a caret under the column, with a ~~~ under the rest of the span:
//
//	line 3, column 17: unexpected ")", expected an expression
//	  SELECT a, b + ) FROM t
//	                ^
//
// Several errors travel together as an ErrorList, which renders them one
// after another and unwraps to its members, so errors.As finds the first
// *Error in it.
//
// Values of these types are immutable once built and safe to share between
// goroutines.
package diag

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Pos is a point in the source text. Offset is in bytes from the start of the
// source; Line and Col count from 1, Col in characters (runes) from the start
// of the line. The zero Pos means "no position".
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// IsValid reports whether p is a real position (Line ≥ 1).
func (p Pos) IsValid() bool { return p.Line > 0 }

// String renders p as "line:col".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Span is a half-open range [Start, End) of source text.
type Span struct {
	Start Pos
	End   Pos
}

// IsValid reports whether the span has a start position.
func (s Span) IsValid() bool { return s.Start.IsValid() }

// String renders the span as "line:col-line:col".
func (s Span) String() string { return s.Start.String() + "-" + s.End.String() }

// Text returns the source text the span covers, or "" when the span does not
// lie within src.
func (s Span) Text(src string) string {
	if !s.IsValid() || s.Start.Offset < 0 || s.End.Offset > len(src) || s.Start.Offset > s.End.Offset {
		return ""
	}
	return src[s.Start.Offset:s.End.Offset]
}

// Cover returns the smallest span that covers both a and b. An invalid span
// is ignored.
func Cover(a, b Span) Span {
	if !a.IsValid() {
		return b
	}
	if !b.IsValid() {
		return a
	}
	out := a
	if b.Start.Offset < out.Start.Offset {
		out.Start = b.Start
	}
	if b.End.Offset > out.End.Offset {
		out.End = b.End
	}
	return out
}

// Error is one problem found in a SQL script.
type Error struct {
	// Msg says what is wrong, e.g. `unexpected ")"` or `unknown table "clicks"`.
	Msg string
	// Expected lists what would have been accepted at Span.Start, each in the
	// words a user reads ("FROM", "GROUP BY", ";", "an expression"). Empty
	// when not a syntax error.
	Expected []string
	// Hint, when set, is advice on a line of its own (e.g. how to quote a
	// reserved word, or the closest known name).
	Hint string
	// Span is the source text the error is about; Span.End may equal
	// Span.Start when only a point is known.
	Span Span
	// Line is the source line that contains Span.Start, without its newline;
	// it is rendered under the message.
	Line string
}

// New returns an Error about span in src. The message is formatted as by
// fmt.Sprintf. It copies the line of src that holds span.Start so the error
// does not keep src alive.
func New(src string, span Span, format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...), Span: span}
	e.Line = LineAt(src, span.Start)
	return e
}

// LineAt returns the line of src that holds p (without the line break), or
// "" when p is not within src.
func LineAt(src string, p Pos) string {
	if !p.IsValid() || p.Offset < 0 || p.Offset > len(src) {
		return ""
	}
	start := strings.LastIndexByte(src[:p.Offset], '\n') + 1
	end := strings.IndexByte(src[p.Offset:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += p.Offset
	}
	return strings.TrimSuffix(src[start:end], "\r")
}

// Message returns the first line of the rendering without the position:
// the message and what was expected.
func (e *Error) Message() string {
	if len(e.Expected) == 0 {
		return e.Msg
	}
	return e.Msg + ", expected " + JoinOr(e.Expected)
}

// Error renders the error: "line L, column C: message", then the source line
// with a caret (and a ~~~ under the rest of the span on that line), then the
// hint, if any.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Span.IsValid() {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Span.Start.Line, e.Span.Start.Col)
	}
	b.WriteString(e.Message())
	if e.Span.IsValid() && (e.Line != "" || e.Span.Start.Col == 1) {
		b.WriteString("\n  ")
		b.WriteString(e.Line)
		b.WriteString("\n  ")
		b.WriteString(caret(e.Line, e.Span))
	}
	if e.Hint != "" {
		b.WriteString("\n  hint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// caret builds the marker line: the prefix keeps the tabs of line so the
// caret sits under the right character in a terminal.
func caret(line string, span Span) string {
	var b strings.Builder
	col := 1
	i := 0
	for i < len(line) && col < span.Start.Col {
		r, n := utf8.DecodeRuneInString(line[i:])
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
		i += n
		col++
	}
	for col < span.Start.Col { // a column past the end of the line (end of input)
		b.WriteByte(' ')
		col++
	}
	b.WriteByte('^')
	width := 0
	if span.End.Line == span.Start.Line {
		width = span.End.Col - span.Start.Col - 1
	} else if span.End.Line > span.Start.Line {
		width = utf8.RuneCountInString(line) - span.Start.Col
	}
	for ; width > 0; width-- {
		b.WriteByte('~')
	}
	return b.String()
}

// JoinOr joins items as "a, b or c".
func JoinOr(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// ErrorList is several errors from one script, in source order.
type ErrorList []*Error

// Error renders every error, separated by a blank line.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d errors:", len(l))
	for _, e := range l {
		b.WriteString("\n\n")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the errors of the list, so errors.Is and errors.As look
// into them.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Err returns nil for an empty list and the list itself otherwise. Use it to
// return an ErrorList as an error without producing a non-nil error holding
// an empty list.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Errors returns the *Error values inside err: the members of an ErrorList,
// or the one *Error err is or wraps. It returns nil for any other error.
func Errors(err error) []*Error {
	var l ErrorList
	if errors.As(err, &l) {
		return l
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return nil
}

// Closest returns the candidate nearest to name by edit distance, compared
// case-insensitively, and whether it is near enough to suggest (at most a
// third of the name's length in edits, and at least one). Later stages use it
// for "unknown table clicks; did you mean click?".
func Closest(name string, candidates []string) (string, bool) {
	best, bestD := "", -1
	ln := strings.ToLower(name)
	for _, c := range candidates {
		d := editDistance(ln, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, utf8.RuneCountInString(name)/3)
	if bestD < 0 || bestD > limit {
		return "", false
	}
	return best, true
}

// editDistance is the Levenshtein distance between a and b in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
