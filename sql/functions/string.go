package functions

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// String functions, with the semantics of Flink's "String Functions" page
// (https://nightlies.apache.org/flink/flink-docs-stable/docs/dev/table/functions/systemfunctions/#string-functions).
// Positions and lengths count characters (code points), 1-based. Regular
// expressions are Go's RE2, which is Java's syntax for the common cases
// but has no backreferences or lookaround: such a pattern is a NULL result
// (as Flink gives for a pattern it cannot compile).

func registerString(r *Registry) {
	str := types.StringType()
	integer := types.IntType()
	one := []param{pString}
	r.simple("UPPER", one, str, false, func(a []Value) (Value, error) { return Str(strings.ToUpper(a[0].S)), nil })
	r.simple("LOWER", one, str, false, func(a []Value) (Value, error) { return Str(strings.ToLower(a[0].S)), nil })
	r.simple("INITCAP", one, str, false, func(a []Value) (Value, error) { return Str(initcap(a[0].S)), nil })
	r.simple("REVERSE", one, str, false, func(a []Value) (Value, error) { return Str(reverse(a[0].S)), nil })
	for _, n := range []string{"CHAR_LENGTH", "CHARACTER_LENGTH"} {
		r.simple(n, one, integer, false, func(a []Value) (Value, error) {
			return Int(int64(utf8.RuneCountInString(a[0].S))), nil
		})
	}
	r.simple("TRIM", one, str, false, func(a []Value) (Value, error) { return Str(strings.Trim(a[0].S, " ")), nil })
	r.simple("LTRIM", one, str, false, func(a []Value) (Value, error) { return Str(strings.TrimLeft(a[0].S, " ")), nil })
	r.simple("RTRIM", one, str, false, func(a []Value) (Value, error) { return Str(strings.TrimRight(a[0].S, " ")), nil })
	// TRIM(BOTH|LEADING|TRAILING chars FROM s): Symbol, chars, s.
	r.add("TRIM", "TRIM(BOTH|LEADING|TRAILING <STRING> FROM <STRING>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 3 || (args[0].Symbol != "BOTH" && args[0].Symbol != "LEADING" && args[0].Symbol != "TRAILING") {
			return nil, false, nil
		}
		params, nullable, ok := matchParams(args[1:], []param{pString, pString})
		if !ok {
			return nil, false, nil
		}
		mode := args[0].Symbol
		eval := strict(func(a []Value) (Value, error) {
			s, cut := a[1].S, a[0].S
			if mode != "TRAILING" {
				s = strings.TrimLeft(s, cut)
			}
			if mode != "LEADING" {
				s = strings.TrimRight(s, cut)
			}
			return Str(s), nil
		})
		return &Scalar{Result: str.WithNullable(nullable), Params: append([]types.Type{types.NullType()}, params...),
			Eval: func(a []Value) (Value, error) { return eval(a[1:]) }}, true, nil
	})
	substr := func(a []Value) (Value, error) {
		n := int64(-1)
		if len(a) == 3 {
			n = a[2].I
		}
		return Str(substring(a[0].S, a[1].I, n)), nil
	}
	for _, n := range []string{"SUBSTRING", "SUBSTR"} {
		r.simple(n, []param{pString, pInteger}, str, false, substr)
		r.simple(n, []param{pString, pInteger, pInteger}, str, false, substr)
	}
	r.add("CONCAT", "CONCAT(<STRING>, ...)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		ps := make([]param, len(args))
		params, nullable, ok := matchParams(args, ps) // pString is 0
		if !ok || len(args) == 0 {
			return nil, false, nil
		}
		return &Scalar{Result: str.WithNullable(nullable), Params: params, Eval: strict(func(a []Value) (Value, error) {
			var b strings.Builder
			for _, v := range a {
				b.WriteString(v.S)
			}
			return Str(b.String()), nil
		})}, true, nil
	})
	// a || b: Calcite's CONCAT operator, STRING_SAME_SAME operands; the
	// result's length is the sum of the operands' (CHAR when both are
	// CHAR, VARCHAR otherwise), NULL when either operand is NULL.
	r.add("||", "<STRING> || <STRING>", func(c *Context, args []Arg) (*Scalar, bool, error) {
		params, nullable, ok := matchParams(args, []param{pString, pString})
		if !ok {
			return nil, false, nil
		}
		return &Scalar{Result: concatType(args[0].Type, args[1].Type).WithNullable(nullable), Params: params,
			Eval:  strict(func(a []Value) (Value, error) { return Str(concat2(a[0].S, a[1].S)), nil }),
			Typed: &Typed{Str: concat2}}, true, nil
	})
	r.add("CONCAT_WS", "CONCAT_WS(<STRING>, <STRING>, ...)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		params, _, ok := matchParams(args, make([]param, len(args)))
		if !ok || len(args) < 2 {
			return nil, false, nil
		}
		// NULL only for a NULL separator; NULL strings are skipped.
		return &Scalar{Result: str.WithNullable(args[0].Type.IsNullable()), Params: params, Eval: func(a []Value) (Value, error) {
			if a[0].Null {
				return Null(), nil
			}
			var b strings.Builder
			first := true
			for _, v := range a[1:] {
				if v.Null {
					continue
				}
				if !first {
					b.WriteString(a[0].S)
				}
				first = false
				b.WriteString(v.S)
			}
			return Str(b.String()), nil
		}}, true, nil
	})
	r.simple("REPLACE", []param{pString, pString, pString}, str, false, func(a []Value) (Value, error) {
		return Str(strings.ReplaceAll(a[0].S, a[1].S, a[2].S)), nil
	})
	// POSITION(needle IN s) is POSITION(needle, s).
	r.simple("POSITION", []param{pString, pString}, integer, false, func(a []Value) (Value, error) {
		return Int(position(a[1].S, a[0].S, 1)), nil
	})
	r.simple("LOCATE", []param{pString, pString}, integer, false, func(a []Value) (Value, error) {
		return Int(position(a[1].S, a[0].S, 1)), nil
	})
	r.simple("LOCATE", []param{pString, pString, pInteger}, integer, false, func(a []Value) (Value, error) {
		return Int(position(a[1].S, a[0].S, a[2].I)), nil
	})
	pad := func(left bool) Eval {
		return func(a []Value) (Value, error) {
			s, n, p := a[0].S, a[1].I, a[2].S
			if n < 0 || p == "" {
				return Null(), nil
			}
			return Str(padString(s, int(n), p, left)), nil
		}
	}
	r.simple("LPAD", []param{pString, pInteger, pString}, str, true, pad(true))
	r.simple("RPAD", []param{pString, pInteger, pString}, str, true, pad(false))
	r.simple("REPEAT", []param{pString, pInteger}, str, false, func(a []Value) (Value, error) {
		if a[1].I <= 0 {
			return Str(""), nil
		}
		return Str(strings.Repeat(a[0].S, int(a[1].I))), nil
	})
	r.simple("SPLIT_INDEX", []param{pString, pString, pInteger}, str, true, func(a []Value) (Value, error) {
		if a[2].I < 0 || a[1].S == "" {
			return Null(), nil
		}
		parts := strings.Split(a[0].S, a[1].S)
		if a[2].I >= int64(len(parts)) {
			return Null(), nil
		}
		return Str(parts[a[2].I]), nil
	})

	r.fixed("REGEXP_EXTRACT", []param{pString, pString}, str, true, regexEval(1, func(re *regexp.Regexp, a []Value) Value {
		return extract(re, a[0].S, 0)
	}))
	r.fixed("REGEXP_EXTRACT", []param{pString, pString, pInteger}, str, true, regexEval(1, func(re *regexp.Regexp, a []Value) Value {
		return extract(re, a[0].S, a[2].I)
	}))
	r.fixed("REGEXP_REPLACE", []param{pString, pString, pString}, str, true, regexEval(1, func(re *regexp.Regexp, a []Value) Value {
		return Str(re.ReplaceAllString(a[0].S, javaReplacement(a[2].S)))
	}))
	r.fixed("REGEXP", []param{pString, pString}, types.BooleanType(), true, regexEval(1, func(re *regexp.Regexp, a []Value) Value {
		return Bool(re.MatchString(a[0].S))
	}))
	like := func(c *Context, args []Arg) (Eval, error) {
		var esc byte
		if len(args) == 3 {
			if args[2].Const == nil || args[2].Const.Null || len(args[2].Const.S) != 1 {
				return nil, fmt.Errorf("Invalid escape character for LIKE: the escape must be a one-character literal")
			}
			esc = args[2].Const.S[0]
		}
		compile := func(p string) (*regexp.Regexp, error) { return likeRegexp(p, esc) }
		return cachedRegexp(args[1], compile, func(re *regexp.Regexp, a []Value) Value {
			return Bool(re.MatchString(a[0].S))
		})
	}
	r.fixed("LIKE", []param{pString, pString}, types.BooleanType(), false, like)
	r.fixed("LIKE", []param{pString, pString, pString}, types.BooleanType(), false, like)

	r.fixed("JSON_VALUE", []param{pString, pString}, str, true, func(c *Context, args []Arg) (Eval, error) {
		var fixedPath []pathStep
		if k := args[1].Const; k != nil && !k.Null {
			p, err := parseJSONPath(k.S)
			if err != nil {
				return nil, err
			}
			fixedPath = p
		}
		return func(a []Value) (Value, error) {
			path := fixedPath
			if path == nil {
				p, err := parseJSONPath(a[1].S)
				if err != nil {
					return Null(), nil // NULL ON ERROR
				}
				path = p
			}
			return jsonValue(a[0].S, path), nil
		}, nil
	})
}

// regexEval prepares a function whose argument at index pat is a regular
// expression: a literal is compiled once; a computed one is compiled per
// distinct value (the last one is cached). A pattern that does not compile
// gives NULL.
func regexEval(pat int, f func(re *regexp.Regexp, a []Value) Value) func(*Context, []Arg) (Eval, error) {
	return func(c *Context, args []Arg) (Eval, error) {
		return cachedRegexp(args[pat], regexp.Compile, f)
	}
}

func cachedRegexp(arg Arg, compile func(string) (*regexp.Regexp, error), f func(re *regexp.Regexp, a []Value) Value) (Eval, error) {
	if k := arg.Const; k != nil && !k.Null {
		re, err := compile(k.S)
		if err != nil {
			return func([]Value) (Value, error) { return Null(), nil }, nil
		}
		return func(a []Value) (Value, error) { return f(re, a), nil }, nil
	}
	var lastPat string
	var last *regexp.Regexp
	var lastErr error
	return func(a []Value) (Value, error) {
		if last == nil && lastErr == nil || a[1].S != lastPat {
			lastPat = a[1].S
			last, lastErr = compile(lastPat)
		}
		if lastErr != nil {
			return Null(), nil
		}
		return f(last, a), nil
	}, nil
}

func extract(re *regexp.Regexp, s string, idx int64) Value {
	if idx < 0 || idx > int64(re.NumSubexp()) {
		return Null()
	}
	m := re.FindStringSubmatchIndex(s)
	if m == nil || m[2*idx] < 0 {
		return Null()
	}
	return Str(s[m[2*idx]:m[2*idx+1]])
}

// javaReplacement turns Java's $1 group references into Go's ${1} (Go
// reads $1x as a group named "1x").
func javaReplacement(s string) string {
	if !strings.Contains(s, "$") && !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case c == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// likeRegexp translates a LIKE pattern (% any run, _ one character, esc
// escaping the next character) to an anchored regular expression.
func likeRegexp(p string, esc byte) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("(?s)^")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case esc != 0 && c == esc:
			if i+1 >= len(p) {
				return nil, fmt.Errorf("Invalid escape sequence '%s'", p)
			}
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		case c == '%':
			b.WriteString(".*")
		case c == '_':
			b.WriteString(".")
		default:
			_, n := utf8.DecodeRuneInString(p[i:])
			b.WriteString(regexp.QuoteMeta(p[i : i+n]))
			i += n - 1
		}
	}
	b.WriteByte('$')
	return regexp.Compile(b.String())
}

// substring is Flink's SUBSTRING(s, pos[, n]) over characters: pos 0 is
// 1, a negative pos counts from the end, n < 0 means to the end.
func substring(s string, pos, n int64) string {
	rs := []rune(s)
	l := int64(len(rs))
	var start int64
	switch {
	case pos > 0:
		start = pos - 1
	case pos < 0:
		start = l + pos
	}
	end := l
	if n >= 0 {
		end = start + n
	}
	start = max(start, 0)
	end = min(end, l)
	if start >= end {
		return ""
	}
	return string(rs[start:end])
}

// position is the 1-based character position of needle in s at or after
// character from, 0 if absent.
func position(s, needle string, from int64) int64 {
	if from < 1 {
		return 0
	}
	rs := []rune(s)
	if from-1 > int64(len(rs)) {
		return 0
	}
	i := strings.Index(string(rs[from-1:]), needle)
	if i < 0 {
		return 0
	}
	return from + int64(utf8.RuneCountInString(string(rs[from-1:])[:i]))
}

func padString(s string, n int, p string, left bool) string {
	rs := []rune(s)
	if n <= len(rs) {
		return string(rs[:n])
	}
	pr := []rune(p)
	fill := make([]rune, 0, n-len(rs))
	for len(fill) < n-len(rs) {
		fill = append(fill, pr[len(fill)%len(pr)])
	}
	if left {
		return string(fill) + s
	}
	return s + string(fill)
}

func initcap(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start {
				b.WriteRune(unicode.ToUpper(r))
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
			start = false
		} else {
			b.WriteRune(r)
			start = true
		}
	}
	return b.String()
}

func reverse(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

// JSON paths: the lax subset $, .key, ['key'], [n] and .* is not
// supported (JSON_VALUE returns one scalar).
type pathStep struct {
	key   string
	index int
	isIdx bool
}

func parseJSONPath(p string) ([]pathStep, error) {
	bad := fmt.Errorf("Invalid JSON path expression '%s'", p)
	s := strings.TrimSpace(p)
	s = strings.TrimPrefix(s, "lax ")
	if strings.HasPrefix(s, "strict ") {
		return nil, fmt.Errorf("JSON path '%s': strict mode is not supported yet", p)
	}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "$") {
		return nil, bad
	}
	s = s[1:]
	steps := []pathStep{}
	for len(s) > 0 {
		switch {
		case s[0] == '.':
			j := 1
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == 1 || s[1:j] == "*" {
				return nil, bad
			}
			steps = append(steps, pathStep{key: s[1:j]})
			s = s[j:]
		case s[0] == '[':
			j := strings.IndexByte(s, ']')
			if j < 0 {
				return nil, bad
			}
			in := strings.TrimSpace(s[1:j])
			if len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0] {
				steps = append(steps, pathStep{key: in[1 : len(in)-1]})
			} else {
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 {
					return nil, bad
				}
				steps = append(steps, pathStep{index: n, isIdx: true})
			}
			s = s[j+1:]
		default:
			return nil, bad
		}
	}
	return steps, nil
}

// jsonValue is JSON_VALUE with its defaults: the scalar at path as a
// string; NULL when the input is not JSON, the path is absent, or it
// names an object or array (NULL ON EMPTY, NULL ON ERROR).
func jsonValue(doc string, path []pathStep) Value {
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return Null()
	}
	for _, st := range path {
		switch x := v.(type) {
		case map[string]any:
			if st.isIdx {
				return Null()
			}
			var ok bool
			if v, ok = x[st.key]; !ok {
				return Null()
			}
		case []any:
			if !st.isIdx || st.index >= len(x) {
				return Null()
			}
			v = x[st.index]
		default:
			return Null()
		}
	}
	switch x := v.(type) {
	case string:
		return Str(x)
	case json.Number:
		if !strings.ContainsAny(string(x), ".eE") {
			return Str(string(x))
		}
		// A fraction reads as a Java double, as Jackson does: 2.50 is 2.5.
		f, err := x.Float64()
		if err != nil {
			return Str(string(x))
		}
		return Str(string(row.AppendJavaFloat(nil, f, 64)))
	case bool:
		return Str(strconv.FormatBool(x))
	}
	return Null()
}

func concat2(a, b string) string { return a + b }

// concatType is the type of a || b for CHAR, VARCHAR or NULL-typed
// operands: the lengths add up (to at most types.MaxLength).
func concatType(a, b types.Type) types.Type {
	if a.Kind == types.Char && b.Kind == types.Char {
		return types.CharType(min(a.Precision+b.Precision, types.MaxLength))
	}
	length := func(t types.Type) int {
		if t.IsCharString() {
			return t.Precision
		}
		return types.MaxLength // the NULL type
	}
	return types.VarCharType(min(length(a)+length(b), types.MaxLength))
}
