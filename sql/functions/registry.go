package functions

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/types"
)

// Arg describes one argument of a call at planning time.
type Arg struct {
	Type types.Type
	// Const is the argument's value when it is a literal (a regular
	// expression, a date format, a JSON path, an index), so the function
	// prepares it once; nil otherwise.
	Const *Value
	// Symbol is a keyword argument, upper case: the unit of EXTRACT,
	// TIMESTAMPADD, TIMESTAMPDIFF and FLOOR/CEIL ... TO, the flag of TRIM.
	// A Symbol keeps its position in the argument list; its Param is the
	// NULL type and the Value passed for it is ignored.
	Symbol string
}

// Eval evaluates a bound function over its arguments, already cast to
// Scalar.Params. It does not retain args and must not be called with a
// different number of them. An error is a run-time failure
// (Flink's job failure), distinct from a NULL result.
type Eval func(args []Value) (Value, error)

// Scalar is a resolved scalar function call: its result type, the types
// its arguments must be cast to (implicitly, by the caller) and its
// evaluator. Eval holds state prepared from constant arguments (compiled
// regular expressions, parsed formats) and caches; it is not safe for
// concurrent use: resolve once per operator instance.
type Scalar struct {
	Name   string
	Result types.Type
	Params []types.Type
	Eval   Eval
	// Typed is the unboxed form of Eval, nil where there is none.
	Typed *Typed
}

// Context is the session configuration functions depend on.
type Context struct {
	// TimeZone is table.local-time-zone: how TIMESTAMP_LTZ values read as
	// local date-times (EXTRACT, DATE_FORMAT, casts). nil is UTC.
	TimeZone *time.Location
}

func (c *Context) loc() *time.Location {
	if c == nil || c.TimeZone == nil {
		return time.UTC
	}
	return c.TimeZone
}

// binder resolves one overload: ok false when the arguments do not match.
type binder func(c *Context, args []Arg) (s *Scalar, ok bool, err error)

type overload struct {
	sig  string // the supported form, for errors: UPPER(<STRING>)
	bind binder
}

// Registry maps function names (case-insensitive) to their overloads and
// aggregate functions. The registry from Builtins is immutable and safe
// for concurrent use.
type Registry struct {
	scalars map[string][]overload
	aggs    map[string]aggDef
	user    map[string]string // the signatures of functions registered from Go (user.go)
}

func newRegistry() *Registry {
	return &Registry{scalars: map[string][]overload{}, aggs: map[string]aggDef{}}
}

func (r *Registry) add(name, sig string, b binder) {
	r.scalars[name] = append(r.scalars[name], overload{sig: sig, bind: b})
}

var builtins = func() *Registry {
	r := newRegistry()
	registerString(r)
	registerMath(r)
	registerConditional(r)
	registerTime(r)
	registerOperators(r)
	registerMore(r)
	registerBytes(r)
	registerAggregates(r)
	return r
}()

// Builtins is the registry of Flink's built-in functions that Sluice
// implements.
func Builtins() *Registry { return builtins }

// Names are the registered scalar and aggregate names, sorted.
func (r *Registry) Names() []string {
	var ns []string
	for n := range r.scalars {
		ns = append(ns, n)
	}
	for n := range r.aggs {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// IsAggregate reports whether name is an aggregate function.
func (r *Registry) IsAggregate(name string) bool {
	_, ok := r.aggs[strings.ToUpper(name)]
	return ok
}

// Scalar resolves a call of a scalar function. The errors are Flink's
// (Calcite's) validation messages: an unknown name suggests the closest
// known one; arguments that match no overload list the supported forms.
func (r *Registry) Scalar(c *Context, name string, args []Arg) (*Scalar, error) {
	up := strings.ToUpper(name)
	ovs, ok := r.scalars[up]
	if !ok {
		if _, isAgg := r.aggs[up]; isAgg {
			return nil, fmt.Errorf("Aggregate function %s cannot be used here: it is only valid in a SELECT with GROUP BY or a window aggregation", up)
		}
		return nil, unknown(name, r.Names())
	}
	for _, o := range ovs {
		s, ok, err := o.bind(c, args)
		if err != nil {
			return nil, err
		}
		if ok {
			s.Name = up
			return s, nil
		}
	}
	sigs := make([]string, len(ovs))
	for i, o := range ovs {
		sigs[i] = "'" + o.sig + "'"
	}
	return nil, fmt.Errorf("Cannot apply '%s' to arguments of type '%s'. Supported form(s): %s",
		up, callSig(up, args), strings.Join(sigs, "\n"))
}

func callSig(name string, args []Arg) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('(')
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		if a.Symbol != "" {
			b.WriteString(a.Symbol)
			continue
		}
		b.WriteByte('<')
		b.WriteString(a.Type.Nullable().String())
		b.WriteByte('>')
	}
	b.WriteByte(')')
	return b.String()
}

// unknown is the error for a name that is not registered, with the
// closest registered name when one is near enough to be a typo.
func unknown(name string, known []string) error {
	up := strings.ToUpper(name)
	best, bestD := "", 1<<30
	for _, k := range known {
		if !isWord(k) {
			continue // operators are not typos of names
		}
		if d := levenshtein(up, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" && bestD <= max(1, len(up)/3) {
		return fmt.Errorf("No match found for function signature %s: unknown function; did you mean %s?", up, best)
	}
	return fmt.Errorf("No match found for function signature %s: unknown function", up)
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c == '_' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Parameter classes for the fixed-signature functions.

type param uint8

const (
	pString  param = iota // CHAR or VARCHAR, cast to STRING
	pInteger              // any integer, cast to BIGINT
	pInt                  // any integer up to INT, cast to INT
	pDouble               // any numeric, cast to DOUBLE
	pBool                 // BOOLEAN
	pTime                 // TIMESTAMP or TIMESTAMP_LTZ (kept)
	pBytes                // BINARY or VARBINARY, cast to BYTES
)

var paramNames = [...]string{"<STRING>", "<INTEGER>", "<INTEGER>", "<NUMERIC>", "<BOOLEAN>", "<TIMESTAMP>", "<BINARY>"}

// accepts reports whether an argument of type t matches p, and the type
// to cast it to.
func (p param) accepts(t types.Type) (types.Type, bool) {
	n := t.IsNullable()
	isNull := t.Kind == types.Null
	switch p {
	case pString:
		if t.IsCharString() || isNull {
			return types.StringType().WithNullable(n), true
		}
	case pInteger:
		if t.IsInteger() || isNull {
			return types.BigIntType().WithNullable(n), true
		}
	case pInt:
		if (t.IsInteger() && t.Kind != types.BigInt) || isNull {
			return types.IntType().WithNullable(n), true
		}
	case pDouble:
		if t.IsNumeric() || isNull {
			return types.DoubleType().WithNullable(n), true
		}
	case pBool:
		if t.Kind == types.Boolean || isNull {
			return types.BooleanType().WithNullable(n), true
		}
	case pBytes:
		if t.IsBinaryString() || isNull {
			return types.BytesType().WithNullable(n), true
		}
	case pTime:
		if t.IsTimestamp() {
			return t, true
		}
		if isNull {
			return types.TimestampType(3), true
		}
	}
	return types.Type{}, false
}

func sigOf(name string, ps []param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = paramNames[p]
	}
	return name + "(" + strings.Join(parts, ", ") + ")"
}

// matchParams matches args against ps, returning the cast types and
// whether any argument is nullable.
func matchParams(args []Arg, ps []param) ([]types.Type, bool, bool) {
	if len(args) != len(ps) {
		return nil, false, false
	}
	out := make([]types.Type, len(ps))
	nullable := false
	for i, p := range ps {
		if args[i].Symbol != "" {
			return nil, false, false
		}
		t, ok := p.accepts(args[i].Type)
		if !ok {
			return nil, false, false
		}
		out[i] = t
		nullable = nullable || t.IsNullable()
	}
	return out, nullable, true
}

// strict wraps f so that any NULL argument gives NULL (most functions).
func strict(f Eval) Eval {
	return func(args []Value) (Value, error) {
		for i := range args {
			if args[i].Null {
				return Null(), nil
			}
		}
		return f(args)
	}
}

// fixed registers a strict function of fixed parameter classes and
// result type. nullResult marks results that can be NULL for non-NULL
// arguments (a failed parse, an index out of range).
func (r *Registry) fixed(name string, ps []param, result types.Type, nullResult bool, prep func(c *Context, args []Arg) (Eval, error)) {
	r.add(name, sigOf(name, ps), func(c *Context, args []Arg) (*Scalar, bool, error) {
		params, nullable, ok := matchParams(args, ps)
		if !ok {
			return nil, false, nil
		}
		f, err := prep(c, args)
		if err != nil {
			return nil, false, err
		}
		return &Scalar{Result: result.WithNullable(nullable || nullResult), Params: params, Eval: strict(f)}, true, nil
	})
}

// simple is fixed for evaluators that need no preparation.
func (r *Registry) simple(name string, ps []param, result types.Type, nullResult bool, f Eval) {
	r.fixed(name, ps, result, nullResult, func(*Context, []Arg) (Eval, error) { return f, nil })
}

func anyNullable(args []Arg) bool {
	for _, a := range args {
		if a.Symbol == "" && a.Type.IsNullable() {
			return true
		}
	}
	return false
}

func argTypes(args []Arg) []types.Type {
	ts := make([]types.Type, len(args))
	for i, a := range args {
		ts[i] = a.Type
	}
	return ts
}
