package functions

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// The test scripts in testdata/ call functions with a small expression
// syntax (the SQL parser lives elsewhere and is not a dependency):
//
//	FUNC(arg, ...)            a call; bare upper-case words are Symbols
//	OP('+', a, b)             an operator by its spelling
//	CAST(x AS T), TRY_CAST(x AS T)
//	42 (INT), 5000000000 (BIGINT), 1.50 (DECIMAL(3, 2)), 1.5e0 (DOUBLE)
//	'text' (CHAR(n)), TRUE, FALSE, NULL (the NULL type), NULL:T (typed)
//	DATE '2024-01-01', TIME '10:00:00', TIMESTAMP '2024-01-01 10:00:00.123'
//	(precision from the fraction), TIMESTAMP_LTZ '...' (read in UTC)
//	INTERVAL '5' SECOND (and MINUTE, HOUR, DAY, MONTH, YEAR)
//	ARRAY[a, b], MAP[k1, v1, k2, v2]
//
// Literal types follow Flink's. Arguments are cast to the Params a
// function asks for with Cast, as a planner would. Results print as
// "value : TYPE" with values in the print connector's form.

type expr struct {
	t     types.Type
	v     Value
	isLit bool
	sym   string
}

type parser struct {
	s   string
	i   int
	ctx *Context
}

func (p *parser) ws() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *parser) peek(tok string) bool {
	p.ws()
	return strings.HasPrefix(p.s[p.i:], tok)
}

func (p *parser) eat(tok string) error {
	if !p.peek(tok) {
		return fmt.Errorf("test syntax: expected %q at %d in %s", tok, p.i, p.s)
	}
	p.i += len(tok)
	return nil
}

func (p *parser) word() string {
	p.ws()
	j := p.i
	for j < len(p.s) && (p.s[j] == '_' || p.s[j] >= 'A' && p.s[j] <= 'Z' || p.s[j] >= 'a' && p.s[j] <= 'z' || p.s[j] >= '0' && p.s[j] <= '9') {
		j++
	}
	w := p.s[p.i:j]
	p.i = j
	return w
}

func (p *parser) str() (string, error) {
	if err := p.eat("'"); err != nil {
		return "", err
	}
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", fmt.Errorf("test syntax: unterminated string")
		}
		c := p.s[p.i]
		p.i++
		if c == '\'' {
			if p.i < len(p.s) && p.s[p.i] == '\'' {
				b.WriteByte('\'')
				p.i++
				continue
			}
			return b.String(), nil
		}
		b.WriteByte(c)
	}
}

func parseTestType(s string) (types.Type, error) {
	s = strings.TrimSpace(s)
	name, params, _ := strings.Cut(s, "(")
	params = strings.TrimSuffix(params, ")")
	var ns []int
	for _, f := range strings.Split(params, ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, err := strconv.Atoi(f)
			if err != nil {
				return types.Type{}, err
			}
			ns = append(ns, n)
		}
	}
	arg := func(i, def int) int {
		if i < len(ns) {
			return ns[i]
		}
		return def
	}
	switch strings.TrimSpace(name) {
	case "BOOLEAN":
		return types.BooleanType(), nil
	case "TINYINT":
		return types.TinyIntType(), nil
	case "SMALLINT":
		return types.SmallIntType(), nil
	case "INT":
		return types.IntType(), nil
	case "BIGINT":
		return types.BigIntType(), nil
	case "FLOAT":
		return types.FloatType(), nil
	case "DOUBLE":
		return types.DoubleType(), nil
	case "DECIMAL":
		return types.DecimalType(arg(0, 10), arg(1, 0)), nil
	case "STRING":
		return types.StringType(), nil
	case "VARCHAR":
		return types.VarCharType(arg(0, 1)), nil
	case "CHAR":
		return types.CharType(arg(0, 1)), nil
	case "BYTES":
		return types.BytesType(), nil
	case "DATE":
		return types.DateType(), nil
	case "TIME":
		return types.TimeType(arg(0, 0)), nil
	case "TIMESTAMP":
		return types.TimestampType(arg(0, 6)), nil
	case "TIMESTAMP_LTZ":
		return types.TimestampLTZType(arg(0, 6)), nil
	}
	return types.Type{}, fmt.Errorf("test syntax: unknown type %q", s)
}

func (p *parser) expr() (expr, error) {
	p.ws()
	if p.i >= len(p.s) {
		return expr{}, fmt.Errorf("test syntax: unexpected end")
	}
	c := p.s[p.i]
	switch {
	case c == '\'':
		s, err := p.str()
		if err != nil {
			return expr{}, err
		}
		return expr{t: types.CharType(len([]rune(s))).AsNotNull(), v: Str(s), isLit: true}, nil
	case c == '-' || c >= '0' && c <= '9':
		j := p.i + 1
		for j < len(p.s) && strings.IndexByte("0123456789.eE-", p.s[j]) >= 0 {
			j++
		}
		lit := p.s[p.i:j]
		p.i = j
		switch {
		case strings.ContainsAny(lit, "eE"):
			f, err := strconv.ParseFloat(lit, 64)
			return expr{t: types.DoubleType().AsNotNull(), v: Float(f), isLit: true}, err
		case strings.Contains(lit, "."):
			d, err := row.ParseDecimal(lit)
			return expr{t: types.DecimalType(max(d.Precision(), 1), d.Scale()).AsNotNull(), v: Dec(d), isLit: true}, err
		}
		n, err := strconv.ParseInt(lit, 10, 64)
		t := types.IntType()
		if n != int64(int32(n)) {
			t = types.BigIntType()
		}
		return expr{t: t.AsNotNull(), v: Int(n), isLit: true}, err
	}
	w := p.word()
	switch w {
	case "TRUE", "FALSE":
		return expr{t: types.BooleanType().AsNotNull(), v: Bool(w == "TRUE"), isLit: true}, nil
	case "NULL":
		if p.peek(":") {
			p.i++
			j, depth := p.i, 0
			for ; j < len(p.s) && p.s[j] != ',' && p.s[j] != ']' && !(p.s[j] == ' ' && depth == 0); j++ {
				if p.s[j] == '(' {
					depth++
				} else if p.s[j] == ')' {
					if depth == 0 {
						break
					}
					depth--
				}
			}
			t, err := parseTestType(p.s[p.i:j])
			p.i = j
			return expr{t: t, v: Null(), isLit: true}, err
		}
		return expr{t: types.NullType(), v: Null(), isLit: true}, nil
	case "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ":
		if !p.peek("'") {
			return expr{sym: w}, nil
		}
		s, err := p.str()
		if err != nil {
			return expr{}, err
		}
		frac := 0
		if _, f, ok := strings.Cut(s, "."); ok {
			frac = len(f)
		}
		switch w {
		case "DATE":
			d, err := row.ParseDate(s)
			return expr{t: types.DateType().AsNotNull(), v: Int(d), isLit: true}, err
		case "TIME":
			n, err := row.ParseTime(s)
			return expr{t: types.TimeType(frac).AsNotNull(), v: Int(n), isLit: true}, err
		}
		ts, err := row.ParseTimestamp(s)
		t := types.TimestampType(frac)
		if w == "TIMESTAMP_LTZ" {
			t = types.TimestampLTZType(frac)
		}
		return expr{t: t.AsNotNull(), v: TS(ts), isLit: true}, err
	case "ARRAY", "MAP":
		// ARRAY[a, b, ...], MAP[k1, v1, k2, v2, ...]: element types are
		// the common type of the elements.
		if err := p.eat("["); err != nil {
			return expr{}, err
		}
		var es []expr
		for !p.peek("]") {
			e, err := p.expr()
			if err != nil {
				return expr{}, err
			}
			es = append(es, e)
			if p.peek(",") {
				p.i++
			}
		}
		p.i++
		elemType := func(es []expr) (types.Type, error) {
			ts := make([]types.Type, len(es))
			for i, e := range es {
				ts[i] = e.t
			}
			t, ok := types.CommonType(ts...)
			if !ok {
				return types.Type{}, fmt.Errorf("test syntax: no common element type")
			}
			return t, nil
		}
		if w == "ARRAY" {
			et, err := elemType(es)
			if err != nil {
				return expr{}, err
			}
			a := make([]any, len(es))
			for i, e := range es {
				a[i] = ToAny(et, e.v)
			}
			return expr{t: types.ArrayType(et).AsNotNull(), v: Value{R: a}}, nil
		}
		var ks, vs []expr
		for i := 0; i+1 < len(es); i += 2 {
			ks, vs = append(ks, es[i]), append(vs, es[i+1])
		}
		kt, err := elemType(ks)
		if err != nil {
			return expr{}, err
		}
		vt, err := elemType(vs)
		if err != nil {
			return expr{}, err
		}
		m := &row.MapValue{}
		for i := range ks {
			m.Keys, m.Values = append(m.Keys, ToAny(kt, ks[i].v)), append(m.Values, ToAny(vt, vs[i].v))
		}
		return expr{t: types.MapType(kt, vt).AsNotNull(), v: Value{R: m}}, nil
	case "INTERVAL":
		// INTERVAL 'n' UNIT, one field.
		s, err := p.str()
		if err != nil {
			return expr{}, err
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return expr{}, err
		}
		u := p.word()
		ms := map[string]int64{"SECOND": 1000, "MINUTE": 60000, "HOUR": 3600000, "DAY": 86400000}
		res := map[string]types.Resolution{"SECOND": types.ResSecond, "MINUTE": types.ResMinute, "HOUR": types.ResHour, "DAY": types.ResDay}
		switch u {
		case "MONTH":
			return expr{t: types.YearMonthInterval(types.ResMonth, 2).AsNotNull(), v: Int(n), isLit: true}, nil
		case "YEAR":
			return expr{t: types.YearMonthInterval(types.ResYear, 2).AsNotNull(), v: Int(12 * n), isLit: true}, nil
		}
		if _, ok := ms[u]; !ok {
			return expr{}, fmt.Errorf("test syntax: interval unit %q", u)
		}
		return expr{t: types.DayTimeInterval(res[u], 2, 3).AsNotNull(), v: Int(n * ms[u]), isLit: true}, nil
	case "CAST", "TRY_CAST":
		if err := p.eat("("); err != nil {
			return expr{}, err
		}
		x, err := p.expr()
		if err != nil {
			return expr{}, err
		}
		if err := p.eat("AS"); err != nil {
			return expr{}, err
		}
		j, depth := p.i, 0
		for ; j < len(p.s); j++ {
			if p.s[j] == '(' {
				depth++
			} else if p.s[j] == ')' {
				if depth == 0 {
					break
				}
				depth--
			}
		}
		to, err := parseTestType(p.s[p.i:j])
		if err != nil {
			return expr{}, err
		}
		p.i = j + 1
		s, err := Cast(p.ctx, x.t, to, w == "TRY_CAST")
		if err != nil {
			return expr{}, err
		}
		v, err := s.Eval([]Value{x.v})
		if err == nil && v.Null && !s.Result.IsNullable() {
			err = fmt.Errorf("%s returned NULL for a NOT NULL result type %s", w, s.Result)
		}
		return expr{t: s.Result, v: v}, err
	}
	if !p.peek("(") {
		if w == "" {
			return expr{}, fmt.Errorf("test syntax: unexpected %q", p.s[p.i:])
		}
		return expr{sym: w}, nil
	}
	p.i++
	if w == "OP" {
		// OP('+', a, b): an operator by its spelling.
		op, err := p.str()
		if err != nil {
			return expr{}, err
		}
		w = op
		if p.peek(",") {
			p.i++
		}
	}
	var args []expr
	for !p.peek(")") {
		a, err := p.expr()
		if err != nil {
			return expr{}, err
		}
		if a.sym == "TO" || a.sym == "FROM" || a.sym == "IN" {
			continue // EXTRACT(DAY FROM ts), FLOOR(ts TO DAY): keywords only
		}
		args = append(args, a)
		if p.peek(",") {
			p.i++
		}
	}
	p.i++
	return call(p.ctx, w, args)
}

// call resolves and evaluates FUNC(args), casting arguments to the
// resolved Params.
func call(c *Context, name string, args []expr) (expr, error) {
	as := make([]Arg, len(args))
	for i, a := range args {
		as[i] = Arg{Type: a.t, Symbol: a.sym}
		if a.isLit {
			v := a.v
			as[i].Const = &v
		}
	}
	s, err := Builtins().Scalar(c, name, as)
	if err != nil {
		return expr{}, err
	}
	vals := make([]Value, len(args))
	for i, a := range args {
		vals[i] = a.v
		if a.sym != "" {
			continue
		}
		p := s.Params[i]
		if a.t.EqualIgnoringNull(p) || a.t.Kind == types.Null {
			continue
		}
		if !types.CanImplicitCast(a.t.Nullable(), p.Nullable()) {
			return expr{}, fmt.Errorf("test harness: %s asks for %s, no implicit cast from %s", name, p, a.t)
		}
		cast, err := Cast(c, a.t, p, false)
		if err != nil {
			return expr{}, err
		}
		if vals[i], err = cast.Eval([]Value{a.v}); err != nil {
			return expr{}, err
		}
	}
	v, err := s.Eval(vals)
	if err != nil {
		return expr{}, err
	}
	if v.Null && !s.Result.IsNullable() {
		return expr{}, fmt.Errorf("%s returned NULL for a NOT NULL result type %s", name, s.Result)
	}
	return expr{t: s.Result, v: v}, nil
}

func show(e expr) string {
	return string(row.AppendJava(nil, e.t, ToAny(e.t, e.v))) + " : " + e.t.String()
}

func ctxFrom(t *testing.T, d *datadriven.TestData) *Context {
	c := &Context{}
	if d.HasArg("tz") {
		var tz string
		d.ScanArgs(t, "tz", &tz)
		loc, err := time.LoadLocation(tz)
		if err != nil {
			d.Fatalf(t, "tz: %v", err)
		}
		c.TimeZone = loc
	}
	return c
}

func evalLine(c *Context, line string) string {
	p := &parser{s: line, ctx: c}
	e, err := p.expr()
	if err != nil {
		return "error: " + err.Error()
	}
	if p.ws(); p.i != len(p.s) {
		return "error: test syntax: trailing " + p.s[p.i:]
	}
	return show(e)
}

func TestScalarScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/scalar", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "eval":
				c := ctxFrom(t, d)
				var out strings.Builder
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
						continue
					}
					out.WriteString(evalLine(c, line))
					out.WriteByte('\n')
				}
				return out.String()
			}
			d.Fatalf(t, "unknown command %s", d.Cmd)
			return ""
		})
	})
}
