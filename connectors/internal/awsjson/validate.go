// Package awsjson holds what the AWS JSON 1.1 wire servers (the Kinesis
// API, connectors/shardlog/kinesisapi, and the Firehose API,
// connectors/firehose/firehoseapi) share: request validation as the AWS
// services do it. Each member of an input shape has the constraints of
// its API model (patterns, lengths, ranges, enums); an input's check
// lists its members with their rules in the order the service reports
// them, and the violations are answered together as one
// ValidationException:
//
//	1 validation error detected: Value 'a b' at 'streamName' failed to
//	satisfy constraint: Member must satisfy regular expression pattern:
//	[a-zA-Z0-9_.-]+
//
// The message is built only here (Violations.Message).
package awsjson

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A Pattern is a member's regular expression: its text, as messages quote
// it, and the compiled form, which must match the whole value.
type Pattern struct {
	Text string
	re   *regexp.Regexp
}

// NewPattern compiles text (Go's syntax; the model's patterns without
// lookahead).
func NewPattern(text string) *Pattern {
	return &Pattern{Text: text, re: regexp.MustCompile(`^(?:` + text + `)$`)}
}

// MatchString reports whether s matches the whole pattern.
func (p *Pattern) MatchString(s string) bool { return p.re.MatchString(s) }

// A Rule is the constraints of one member.
type Rule struct {
	Required bool
	// MinLen and MaxLen bound the length of a string, blob, list or map
	// (MaxLen 0: no bound); LengthBetween words a violation as "between".
	MinLen, MaxLen int
	LengthBetween  bool
	// Min and Max bound an integer when HasRange; RangeBetween words a
	// violation as "between".
	Min, Max     int64
	HasRange     bool
	RangeBetween bool
	// Pattern is checked on non-empty strings. Match, when set, is a
	// pattern Go's regexp cannot express (lookahead), quoted as
	// MatchText.
	Pattern   *Pattern
	Match     func(string) bool
	MatchText string
	Enum      []string
}

// Need returns r for a member that must be present.
func (r Rule) Need() Rule {
	r.Required = true
	return r
}

// LengthRule bounds a length to [lo, hi].
func LengthRule(lo, hi int) Rule { return Rule{MinLen: lo, MaxLen: hi} }

// RangeRule bounds an integer to [lo, hi].
func RangeRule(lo, hi int64) Rule { return Rule{Min: lo, Max: hi, HasRange: true} }

// EnumRule allows the given values.
func EnumRule(values ...string) Rule { return Rule{Enum: values} }

// PatternRule is a pattern with length bounds.
func PatternRule(p *Pattern, lo, hi int) Rule { return Rule{MinLen: lo, MaxLen: hi, Pattern: p} }

// A Value is one member of a decoded input, as its rule sees it.
type Value struct {
	Present bool
	Kind    Kind
	S       string // a string
	N       int64  // an integer, or the length of a blob, list or map
	// All is the contents of a list of strings or a map of strings, as
	// Java shows them ("a, b" or "k=v, k2=v2"): echoed in full.
	All string
}

// Kind is what a Value holds.
type Kind uint8

// The kinds of values.
const (
	KindString Kind = iota
	KindInt
	KindBlob
	KindList
	KindMap
	KindElided  // a list always shown as [...]
	KindStrings // a list of strings, shown in full
)

// Str is a string member (nil: absent).
func Str(p *string) Value {
	if p == nil {
		return Value{}
	}
	return Value{Present: true, S: *p, N: int64(len(*p))}
}

// Num is an integer member (nil: absent).
func Num(p *int64) Value {
	if p == nil {
		return Value{Kind: KindInt}
	}
	return Value{Present: true, Kind: KindInt, N: *p}
}

// Blob is a blob member (nil: absent).
func Blob(b []byte) Value { return Value{Present: b != nil, Kind: KindBlob, N: int64(len(b))} }

// List is a list member, shown as '[...]' (nil: absent).
func List[T any](l []T) Value { return Value{Present: l != nil, Kind: KindList, N: int64(len(l))} }

// Elided is a list always shown as '[...]', even empty.
func Elided[T any](l []T) Value { return Value{Present: l != nil, Kind: KindElided, N: int64(len(l))} }

// Dict is a map of strings, shown as Java shows a map: {k=v, k2=v2}. The
// service's order is its hash map's; here it is the keys' sorted order,
// so that a message is the same every time.
func Dict(m map[string]string) Value {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
	}
	return Value{Present: m != nil, Kind: KindMap, N: int64(len(m)), All: b.String()}
}

// Strs is a list of strings, shown as Java shows a list: [a, b].
func Strs(l []string) Value {
	return Value{Present: l != nil, Kind: KindStrings, N: int64(len(l)), All: strings.Join(l, ", ")}
}

// Object is a nested structure, present or not.
func Object(ok bool) Value { return Value{Present: ok, Kind: KindMap} }

// Quoted is the value as messages show it.
func (v Value) Quoted() string {
	switch v.Kind {
	case KindInt:
		return "'" + strconv.FormatInt(v.N, 10) + "'"
	case KindBlob:
		return fmt.Sprintf("'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]'", v.N, v.N)
	case KindList:
		if v.N == 0 {
			return "'[]'"
		}
		return "'[...]'"
	case KindElided:
		return "'[...]'"
	case KindStrings:
		return "'[" + v.All + "]'"
	case KindMap:
		return "'{" + v.All + "}'"
	}
	// Echoed in full, however long, as the services do.
	return "'" + v.S + "'"
}

// Holds reports whether v satisfies r, without building a message.
func (r Rule) Holds(v Value) bool {
	ok := true
	r.Each(v, func(string) { ok = false })
	return ok
}

// Each calls broken with each constraint of r that v breaks, in order;
// "" stands for a required member that is absent.
func (r Rule) Each(v Value, broken func(constraint string)) {
	if !v.Present {
		if r.Required {
			broken("")
		}
		return
	}
	// The pattern is reported before the length, and an empty string
	// breaks both (the patterns all need a character).
	if v.Kind == KindString {
		if r.Pattern != nil && !r.Pattern.re.MatchString(v.S) {
			broken("Member must satisfy regular expression pattern: " + r.Pattern.Text)
		}
		if r.Match != nil && !r.Match(v.S) {
			broken("Member must satisfy regular expression pattern: " + r.MatchText)
		}
	}
	if v.Kind != KindInt && (v.N < int64(r.MinLen) || r.MaxLen > 0 && v.N > int64(r.MaxLen)) {
		switch {
		case r.LengthBetween:
			broken(fmt.Sprintf("Member must have length between %d and %d", r.MinLen, r.MaxLen))
		case v.N < int64(r.MinLen):
			broken(fmt.Sprintf("Member must have length greater than or equal to %d", r.MinLen))
		default:
			broken(fmt.Sprintf("Member must have length less than or equal to %d", r.MaxLen))
		}
	}
	if v.Kind == KindInt && r.HasRange && (v.N < r.Min || v.N > r.Max) {
		switch {
		case r.RangeBetween:
			broken(fmt.Sprintf("Member must have value between %d and %d", r.Min, r.Max))
		case v.N < r.Min:
			broken(fmt.Sprintf("Member must have value greater than or equal to %d", r.Min))
		default:
			broken(fmt.Sprintf("Member must have value less than or equal to %d", r.Max))
		}
	}
	if r.Enum != nil && v.Kind == KindString {
		for _, e := range r.Enum {
			if v.S == e {
				return
			}
		}
		broken("Member must satisfy enum value set: [" + strings.Join(r.Enum, ", ") + "]")
	}
}

// Violations collects what an input breaks.
type Violations struct{ Msgs []string }

// Check checks the member at path (as the service names it:
// "streamName", "records.3.member.partitionKey") against r. It reports
// whether the member is present.
func (vs *Violations) Check(path string, v Value, r Rule) bool {
	r.Each(v, func(constraint string) {
		if constraint == "" {
			vs.Msgs = append(vs.Msgs, "Value null at '"+path+"' failed to satisfy constraint: Member must not be null")
			return
		}
		vs.Msgs = append(vs.Msgs, "Value "+v.Quoted()+" at '"+path+"' failed to satisfy constraint: "+constraint)
	})
	return v.Present
}

// MaxListed is how many violations a message lists; the count is of all
// of them.
const MaxListed = 10

// Message is the ValidationException's message for msgs.
func Message(msgs []string) string {
	noun := "error"
	if len(msgs) > 1 {
		noun = "errors"
	}
	listed := msgs[:min(len(msgs), MaxListed)]
	return fmt.Sprintf("%d validation %s detected: %s", len(msgs), noun, strings.Join(listed, "; "))
}

// ElementLengths is the constraint reported, once for the whole list or
// map, when an element (what) of a list or map is outside [lo, hi]: what
// is "Member" for the elements of a list, "Map keys" or "Map value" for a
// map's.
func ElementLengths(what string, lo, hi int) string {
	return fmt.Sprintf("%s must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to %d]", what, hi, lo)
}

// CheckElements reports the constraint of ElementLengths at path, with v
// (the whole list or map) as the value, if any of elems is outside
// [lo, hi] characters.
func (vs *Violations) CheckElements(path string, v Value, elems []string, what string, lo, hi int) {
	for _, e := range elems {
		if n := utf8.RuneCountInString(e); n < lo || n > hi {
			vs.Msgs = append(vs.Msgs, "Value "+v.Quoted()+" at '"+path+"' failed to satisfy constraint: "+ElementLengths(what, lo, hi))
			return
		}
	}
}
