package parser

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	// tIllegal is text the lexer could not read; val holds the message.
	tIllegal
	// tIdent is an unquoted word that is not reserved (it may still be a
	// non-reserved keyword such as TEMPORARY or WATERMARK's FOR's partner).
	tIdent
	// tKeyword is a reserved word; kw holds it in upper case.
	tKeyword
	// tQIdent is a quoted name, `x` or "x"; val is unescaped.
	tQIdent
	tString // 'x'; val is unescaped
	tNumber // val as written
	tBinary // X'0A'; val holds the hex digits
	tParam  // ?
	tOp     // punctuation and operators; val is the text
	// tHintStart is "/*+", the start of a hint comment; tHintEnd is the
	// "*/" that closes it.
	tHintStart
	tHintEnd
)

type token struct {
	kind tokKind
	kw   string // the reserved word in upper case, for tKeyword
	val  string
	// approx marks a number with an exponent.
	approx bool
	span   diag.Span
	// hint, for tIllegal, is the advice to show with the message.
	hint string
}

// lexer splits SQL text into tokens. It reads the whole input up front
// (scripts are small) so the parser can look ahead freely.
type lexer struct {
	src  string
	off  int
	line int
	col  int
	// inHint is set between /*+ and its */.
	inHint bool
	toks   []token
}

func lex(src string) []token {
	l := &lexer{src: src, line: 1, col: 1}
	l.toks = make([]token, 0, len(src)/4+1)
	for {
		t := l.next()
		l.toks = append(l.toks, t)
		if t.kind == tEOF {
			return l.toks
		}
	}
}

func (l *lexer) pos() diag.Pos { return diag.Pos{Offset: l.off, Line: l.line, Col: l.col} }

// advance moves past n bytes, keeping line and column. The column counts
// runes as a Go range loop does: a byte that is not valid UTF-8 is one.
func (l *lexer) advance(n int) {
	end := min(l.off+n, len(l.src))
	for l.off < end {
		c := l.src[l.off]
		if c < utf8.RuneSelf {
			l.off++
			if c == '\n' {
				l.line++
				l.col = 1
			} else {
				l.col++
			}
			continue
		}
		_, size := utf8.DecodeRuneInString(l.src[l.off:])
		l.off += size
		l.col++
	}
}

func (l *lexer) peekByte(k int) byte {
	if l.off+k < len(l.src) {
		return l.src[l.off+k]
	}
	return 0
}

func (l *lexer) tok(kind tokKind, start diag.Pos, val string) token {
	return token{kind: kind, val: val, span: diag.Span{Start: start, End: l.pos()}}
}

func (l *lexer) illegal(start diag.Pos, msg, hint string) token {
	t := l.tok(tIllegal, start, msg)
	t.hint = hint
	return t
}

// skipSpace skips white space and comments. It returns an illegal token for
// an unterminated block comment.
func (l *lexer) skipSpace() (token, bool) {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.advance(1)
		case c == '-' && l.peekByte(1) == '-':
			end := strings.IndexByte(l.src[l.off:], '\n')
			if end < 0 {
				end = len(l.src) - l.off
			}
			l.advance(end)
		case c == '/' && l.peekByte(1) == '*' && (l.peekByte(2) != '+' || l.inHint):
			start := l.pos()
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				l.advance(len(l.src) - l.off)
				return l.illegal(start, "unterminated comment", "a /* comment needs its closing */"), true
			}
			l.advance(end + 4)
		default:
			if c >= 0x80 {
				r, n := utf8.DecodeRuneInString(l.src[l.off:])
				if unicode.IsSpace(r) {
					l.advance(n)
					continue
				}
			}
			return token{}, false
		}
	}
	return token{}, false
}

func isIdentStart(r rune) bool {
	return r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || (r >= 0x80 && unicode.IsLetter(r))
}

func isIdentPart(r rune) bool {
	return isIdentStart(r) || ('0' <= r && r <= '9') || r == '$'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (l *lexer) next() token {
	if t, bad := l.skipSpace(); bad {
		return t
	}
	start := l.pos()
	if l.off >= len(l.src) {
		return l.tok(tEOF, start, "")
	}
	c := l.src[l.off]
	switch {
	case (c == 'x' || c == 'X') && l.peekByte(1) == '\'':
		return l.binary(start)
	case c == '\'':
		return l.quoted(start, '\'', tString)
	case c == '`':
		return l.quoted(start, '`', tQIdent)
	case c == '"':
		return l.quoted(start, '"', tQIdent)
	case isDigit(c) || (c == '.' && isDigit(l.peekByte(1))):
		return l.number(start)
	}
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	if isIdentStart(r) {
		end := l.off + n
		for end < len(l.src) {
			r, n := utf8.DecodeRuneInString(l.src[end:])
			if !isIdentPart(r) {
				break
			}
			end += n
		}
		word := l.src[l.off:end]
		l.advance(end - l.off)
		if kw, ok := ast.LookupReserved(word); ok {
			t := l.tok(tKeyword, start, word)
			t.kw = kw
			return t
		}
		return l.tok(tIdent, start, word)
	}
	// Operators, longest first.
	if l.inHint && c == '*' && l.peekByte(1) == '/' {
		l.inHint = false
		l.advance(2)
		return l.tok(tHintEnd, start, "*/")
	}
	if c == '/' && l.peekByte(1) == '*' && l.peekByte(2) == '+' {
		l.inHint = true
		l.advance(3)
		return l.tok(tHintStart, start, "/*+")
	}
	two := ""
	if l.off+2 <= len(l.src) {
		two = l.src[l.off : l.off+2]
	}
	switch two {
	case "<>", "!=", "<=", ">=", "||", "=>":
		l.advance(2)
		return l.tok(tOp, start, two)
	}
	switch c {
	case '(', ')', '[', ']', '{', '}', ',', ';', '.', '+', '-', '*', '/', '%', '=', '<', '>', '|', '^', '$', ':':
		l.advance(1)
		return l.tok(tOp, start, l.src[start.Offset:l.off])
	case '?':
		l.advance(1)
		return l.tok(tParam, start, "?")
	}
	l.advance(n)
	if r == utf8.RuneError && n == 1 {
		return l.illegal(start, "invalid UTF-8 in the input", "")
	}
	return l.illegal(start, "unexpected character "+quoteRune(r), "")
}

func quoteRune(r rune) string {
	if r == '\'' {
		return `"'"`
	}
	if unicode.IsPrint(r) {
		return "'" + string(r) + "'"
	}
	return fmtU(r)
}

func fmtU(r rune) string {
	const hex = "0123456789ABCDEF"
	b := []byte("U+0000")
	for i := 5; i >= 2; i-- {
		b[i] = hex[r&0xF]
		r >>= 4
	}
	return string(b)
}

// quoted reads a string or quoted name; the quote character doubled stands
// for itself.
func (l *lexer) quoted(start diag.Pos, q byte, kind tokKind) token {
	i := l.off + 1
	var b strings.Builder
	simple := true // no doubled quotes: the value is a slice of src
	for {
		j := strings.IndexByte(l.src[i:], q)
		if j < 0 {
			l.advance(len(l.src) - l.off)
			what, close := "string", "'"
			switch q {
			case '`':
				what, close = "quoted name", "`"
			case '"':
				what, close = "quoted name", `"`
			}
			return l.illegal(start, "unterminated "+what, "close it with "+close+" (write "+close+close+" for a "+close+" inside it)")
		}
		j += i
		if j+1 < len(l.src) && l.src[j+1] == q {
			if simple {
				simple = false
				b.WriteString(l.src[l.off+1 : j+1])
			} else {
				b.WriteString(l.src[i : j+1])
			}
			i = j + 2
			continue
		}
		val := ""
		if simple {
			val = l.src[l.off+1 : j]
		} else {
			b.WriteString(l.src[i:j])
			val = b.String()
		}
		l.advance(j + 1 - l.off)
		if kind == tQIdent && val == "" {
			return l.illegal(start, "empty quoted name", "")
		}
		return l.tok(kind, start, val)
	}
}

func (l *lexer) binary(start diag.Pos) token {
	end := strings.IndexByte(l.src[l.off+2:], '\'')
	if end < 0 {
		l.advance(len(l.src) - l.off)
		return l.illegal(start, "unterminated binary string", "close it with '")
	}
	hex := l.src[l.off+2 : l.off+2+end]
	l.advance(end + 3)
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if !isDigit(c) && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
			return l.illegal(start, "bad binary string: "+quoteRune(rune(c))+" is not a hex digit", "write X'...' with the digits 0-9 and A-F")
		}
	}
	if len(hex)%2 != 0 {
		return l.illegal(start, "bad binary string: an odd number of hex digits", "each byte is two hex digits, e.g. X'0A'")
	}
	return l.tok(tBinary, start, hex)
}

// number reads 12, 1.5, .5, 1., 1e10, 1.5E-3. A number run into letters
// (12abc, 1e) is an error rather than a number and a name.
func (l *lexer) number(start diag.Pos) token {
	i := l.off
	for i < len(l.src) && isDigit(l.src[i]) {
		i++
	}
	if i < len(l.src) && l.src[i] == '.' {
		i++
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
	}
	approx := false
	if i < len(l.src) && (l.src[i] == 'e' || l.src[i] == 'E') {
		j := i + 1
		if j < len(l.src) && (l.src[j] == '+' || l.src[j] == '-') {
			j++
		}
		if j < len(l.src) && isDigit(l.src[j]) {
			for j < len(l.src) && isDigit(l.src[j]) {
				j++
			}
			i = j
			approx = true
		} else {
			l.advance(j - l.off)
			return l.illegal(start, "bad number "+quoteText(l.src[start.Offset:l.off]), "an exponent needs digits, e.g. 1.5E3")
		}
	}
	// A letter, digit-led name or a second point right after the number.
	end := i
	for end < len(l.src) {
		r, n := utf8.DecodeRuneInString(l.src[end:])
		if !isIdentPart(r) && r != '.' {
			break
		}
		if r == '.' && (end+1 >= len(l.src) || !isDigit(l.src[end+1])) {
			break
		}
		end += n
	}
	if end > i {
		l.advance(end - l.off)
		return l.illegal(start, "bad number "+quoteText(l.src[start.Offset:l.off]), "a name cannot start with a digit unless quoted: `"+l.src[start.Offset:l.off]+"`")
	}
	l.advance(i - l.off)
	t := l.tok(tNumber, start, l.src[start.Offset:i])
	t.approx = approx
	return t
}

func quoteText(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return `"` + s + `"`
}
