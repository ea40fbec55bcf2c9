package prefix

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxEvaluatedLen is Firehose's limit on an evaluated Prefix or
// ErrorOutputPrefix, in characters.
const MaxEvaluatedLen = 512

// RandomStringLen is the length of !{firehose:random-string}.
const RandomStringLen = 11

// DefaultTimestamp is what Firehose appends to a Prefix that has no
// timestamp expression (and is the whole default prefix).
const DefaultTimestamp = "yyyy/MM/dd/HH/"

// Error output types: the values of !{firehose:error-output-type}.
const (
	ProcessingFailed       = "processing-failed"
	FormatConversionFailed = "format-conversion-failed"
	HTTPEndpointFailed     = "http-endpoint-failed"
	// PartitioningFailed is used for records whose partition keys could
	// not be computed, whose evaluated prefix was invalid, or that
	// overflowed the active-partition limit. Firehose's guide does not
	// name this folder; this is Sluice's choice.
	PartitioningFailed = "partitioning-failed"
	// DeliveryFailed is used for records that could not be delivered to an
	// object destination within the retry duration and were written to the
	// backup destination instead (Sluice's choice; Firehose retries S3 for
	// 24 hours and then drops).
	DeliveryFailed = "delivery-failed"
)

// Errors returned by Parse and Compile. Each is wrapped with the offending
// prefix and position.
var (
	ErrSyntax            = errors.New("prefix: syntax error")
	ErrUnknownNamespace  = errors.New("prefix: unknown namespace")
	ErrUnknownValue      = errors.New("prefix: unknown value")
	ErrErrorTypeInPrefix = errors.New("prefix: !{firehose:error-output-type} can only be used in ErrorOutputPrefix")
	ErrKeyInErrorPrefix  = errors.New("prefix: partitionKeyFromQuery and partitionKeyFromLambda cannot be used in ErrorOutputPrefix")
	ErrNeedErrorPrefix   = errors.New("prefix: ErrorOutputPrefix is required when Prefix contains expressions")
	ErrNeedErrorType     = errors.New("prefix: ErrorOutputPrefix with expressions must contain !{firehose:error-output-type}")
	ErrUnknownKey        = errors.New("prefix: partition key is not defined")
	ErrTooLong           = errors.New("prefix: evaluated prefix is longer than 512 characters")
	ErrMissingKey        = errors.New("prefix: no value for partition key")
)

// Namespaces of !{namespace:value}.
const (
	nsTimestamp  = "timestamp"
	nsFirehose   = "firehose"
	nsQueryKey   = "partitionKeyFromQuery"
	nsLambdaKey  = "partitionKeyFromLambda"
	valRandom    = "random-string"
	valErrorType = "error-output-type"
)

type segKind uint8

const (
	segLiteral segKind = iota
	segTimestamp
	segRandom
	segErrorType
	segQueryKey
	segLambdaKey
)

type segment struct {
	kind segKind
	lit  string // literal text, or the key name
	tf   *TimeFormat
}

// Expr is a parsed prefix expression. It is immutable and safe for
// concurrent use.
type Expr struct {
	src  string
	segs []segment
}

// Source returns the expression text (after Firehose's defaults are
// applied, for expressions made by Compile).
func (e *Expr) Source() string { return e.src }

// HasExpressions reports whether e contains any !{...} expression.
func (e *Expr) HasExpressions() bool { return e.has(func(s segKind) bool { return s != segLiteral }) }

// HasTimestamp reports whether e contains a !{timestamp:...} expression.
func (e *Expr) HasTimestamp() bool { return e.has(func(s segKind) bool { return s == segTimestamp }) }

// HasErrorType reports whether e contains !{firehose:error-output-type}.
func (e *Expr) HasErrorType() bool { return e.has(func(s segKind) bool { return s == segErrorType }) }

// HasPartitionKeys reports whether e uses partitionKeyFromQuery or
// partitionKeyFromLambda.
func (e *Expr) HasPartitionKeys() bool {
	return e.has(func(s segKind) bool { return s == segQueryKey || s == segLambdaKey })
}

// QueryKeys returns the names used with partitionKeyFromQuery, in order.
func (e *Expr) QueryKeys() []string { return e.keys(segQueryKey) }

// LambdaKeys returns the names used with partitionKeyFromLambda, in order.
func (e *Expr) LambdaKeys() []string { return e.keys(segLambdaKey) }

func (e *Expr) keys(k segKind) []string {
	var out []string
	for _, s := range e.segs {
		if s.kind == k {
			out = append(out, s.lit)
		}
	}
	return out
}

func (e *Expr) has(f func(segKind) bool) bool {
	for _, s := range e.segs {
		if f(s.kind) {
			return true
		}
	}
	return false
}

// Parse parses a prefix expression without applying Firehose's
// cross-field rules (see Compile for those). The sequence "!{" may appear
// only as the start of a !{namespace:value} expression.
func Parse(s string) (*Expr, error) {
	e := &Expr{src: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			e.segs = append(e.segs, segment{kind: segLiteral, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if !strings.HasPrefix(s[i:], "!{") {
			lit.WriteByte(s[i])
			i++
			continue
		}
		end := closingBrace(s, i+2)
		if end < 0 {
			return nil, fmt.Errorf("%w in %q at offset %d: \"!{\" without a closing \"}\"", ErrSyntax, s, i)
		}
		body := s[i+2 : end]
		ns, val, ok := strings.Cut(body, ":")
		if !ok {
			return nil, fmt.Errorf("%w in %q at offset %d: expression %q is not of the form !{namespace:value}", ErrSyntax, s, i, "!{"+body+"}")
		}
		seg := segment{}
		switch ns {
		case nsTimestamp:
			tf, err := CompileTimeFormat(val)
			if err != nil {
				return nil, fmt.Errorf("prefix: in %q: %w", s, err)
			}
			if len(tf.items) == 0 {
				return nil, fmt.Errorf("%w in %q at offset %d: empty timestamp pattern", ErrSyntax, s, i)
			}
			seg = segment{kind: segTimestamp, tf: tf}
		case nsFirehose:
			switch val {
			case valRandom:
				seg = segment{kind: segRandom}
			case valErrorType:
				seg = segment{kind: segErrorType}
			default:
				return nil, fmt.Errorf("%w %q for namespace firehose in %q (want random-string or error-output-type)", ErrUnknownValue, val, s)
			}
		case nsQueryKey, nsLambdaKey:
			if !validKeyName(val) {
				return nil, fmt.Errorf("%w %q for namespace %s in %q (want a key name of letters, digits, '_' and '-')", ErrUnknownValue, val, ns, s)
			}
			seg = segment{kind: segQueryKey, lit: val}
			if ns == nsLambdaKey {
				seg.kind = segLambdaKey
			}
		default:
			return nil, fmt.Errorf("%w %q in %q (want timestamp, firehose, partitionKeyFromQuery or partitionKeyFromLambda)", ErrUnknownNamespace, ns, s)
		}
		flush()
		e.segs = append(e.segs, seg)
		i = end + 1
	}
	flush()
	return e, nil
}

// closingBrace finds the '}' that ends an expression body starting at i,
// skipping single-quoted literals of timestamp patterns.
func closingBrace(s string, i int) int {
	inQuote := false
	for ; i < len(s); i++ {
		switch s[i] {
		case '\'':
			inQuote = !inQuote
		case '}':
			if !inQuote {
				return i
			}
		}
	}
	return -1
}

func validKeyName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Pair is a validated Prefix and ErrorOutputPrefix, with Firehose's
// defaults applied.
type Pair struct {
	Prefix      *Expr
	ErrorPrefix *Expr
}

// Compile parses prefix and errorPrefix and applies Firehose's rules:
//
//   - Prefix cannot contain !{firehose:error-output-type}.
//   - ErrorOutputPrefix cannot use partitionKeyFromQuery or
//     partitionKeyFromLambda.
//   - If Prefix contains any expression, ErrorOutputPrefix is required.
//   - If ErrorOutputPrefix contains any expression, it must contain
//     !{firehose:error-output-type} at least once.
//   - A Prefix with no timestamp expression gets !{timestamp:yyyy/MM/dd/HH/}
//     appended (so "" becomes the default yyyy/MM/dd/HH/), unless it uses
//     partition keys: dynamically partitioned prefixes are kept as written.
//   - An empty ErrorOutputPrefix (allowed only when Prefix has no
//     expressions) becomes
//     <Prefix>!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}.
//   - Every partitionKeyFromQuery name must satisfy knownQueryKey when it is
//     not nil.
//
// The 512-character limit applies to evaluated prefixes and is checked by
// Eval.
func Compile(prefix, errorPrefix string, knownQueryKey func(string) bool) (Pair, error) {
	p, err := Parse(prefix)
	if err != nil {
		return Pair{}, err
	}
	if p.HasErrorType() {
		return Pair{}, fmt.Errorf("%w (Prefix %q)", ErrErrorTypeInPrefix, prefix)
	}
	if knownQueryKey != nil {
		for _, k := range p.QueryKeys() {
			if !knownQueryKey(k) {
				return Pair{}, fmt.Errorf("%w: !{partitionKeyFromQuery:%s} in Prefix %q", ErrUnknownKey, k, prefix)
			}
		}
	}
	var ep *Expr
	if errorPrefix == "" {
		if p.HasExpressions() {
			return Pair{}, fmt.Errorf("%w (Prefix %q)", ErrNeedErrorPrefix, prefix)
		}
		if ep, err = Parse(prefix + "!{firehose:error-output-type}/!{timestamp:" + DefaultTimestamp + "}"); err != nil {
			return Pair{}, err
		}
	} else {
		if ep, err = Parse(errorPrefix); err != nil {
			return Pair{}, err
		}
		if ep.HasPartitionKeys() {
			return Pair{}, fmt.Errorf("%w (ErrorOutputPrefix %q)", ErrKeyInErrorPrefix, errorPrefix)
		}
		if ep.HasExpressions() && !ep.HasErrorType() {
			return Pair{}, fmt.Errorf("%w (ErrorOutputPrefix %q)", ErrNeedErrorType, errorPrefix)
		}
	}
	if !p.HasTimestamp() && !p.HasPartitionKeys() {
		if p, err = Parse(prefix + "!{timestamp:" + DefaultTimestamp + "}"); err != nil {
			return Pair{}, err
		}
	}
	return Pair{Prefix: p, ErrorPrefix: ep}, nil
}

// Env holds the values an evaluation needs.
type Env struct {
	// Time is the approximate arrival time of the oldest record in the
	// object; every timestamp expression in one prefix evaluates to this
	// same instant. It is formatted in its own location.
	Time time.Time
	// ErrorOutputType is the value of !{firehose:error-output-type}.
	ErrorOutputType string
	// QueryKeys and LambdaKeys hold the partition key values.
	QueryKeys  map[string]string
	LambdaKeys map[string]string
	// Random returns the value of one !{firehose:random-string}
	// (RandomStringLen characters); it is called once per occurrence.
	Random func() string
}

// Eval evaluates e. It fails if a partition key has no value or the result
// is longer than MaxEvaluatedLen characters.
func (e *Expr) Eval(env Env) (string, error) {
	b := make([]byte, 0, 64)
	for _, s := range e.segs {
		switch s.kind {
		case segLiteral:
			b = append(b, s.lit...)
		case segTimestamp:
			b = s.tf.AppendFormat(b, env.Time)
		case segRandom:
			if env.Random == nil {
				return "", fmt.Errorf("prefix: no random source for !{firehose:random-string}")
			}
			b = append(b, env.Random()...)
		case segErrorType:
			b = append(b, env.ErrorOutputType...)
		case segQueryKey, segLambdaKey:
			m, ns := env.QueryKeys, nsQueryKey
			if s.kind == segLambdaKey {
				m, ns = env.LambdaKeys, nsLambdaKey
			}
			v, ok := m[s.lit]
			if !ok {
				return "", fmt.Errorf("%w !{%s:%s}", ErrMissingKey, ns, s.lit)
			}
			b = append(b, v...)
		}
	}
	if n := len([]rune(string(b))); n > MaxEvaluatedLen {
		return "", fmt.Errorf("%w (%d characters)", ErrTooLong, n)
	}
	return string(b), nil
}
