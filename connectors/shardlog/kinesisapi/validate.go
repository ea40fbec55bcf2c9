package kinesisapi

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// Request validation as Kinesis does it: every member of an input shape
// has constraints (the API model's), an input's check method lists its
// members with their rules in the order Kinesis reports them, and the
// violations are answered together as one ValidationException:
//
//	1 validation error detected: Value 'a b' at 'streamName' failed to
//	satisfy constraint: Member must satisfy regular expression pattern:
//	[a-zA-Z0-9_.-]+
//
// The rules are defined once, below; the message is built only by
// validationMessage.

// A pattern is a member's regular expression: its text, as messages quote
// it, and the compiled form, which must match the whole value.
type pattern struct {
	text string
	re   *regexp.Regexp
}

func newPattern(text string) *pattern {
	return &pattern{text: text, re: regexp.MustCompile(`^(?:` + text + `)$`)}
}

// The patterns of the Kinesis API model.
var (
	namePattern        = newPattern(shardlog.NamePattern) // stream and consumer names, shard ids
	streamARNPattern   = newPattern(`arn:aws.*:kinesis:.*:\d{12}:stream/\S+`)
	consumerARNPattern = newPattern(`^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+`)
	hashKeyPattern     = newPattern(`0|([1-9]\d{0,38})`)
	sequencePattern    = newPattern(`0|([1-9]\d{0,128})`)
)

// A rule is the constraints of one member.
type rule struct {
	required bool
	// minLen and maxLen bound the length of a string, blob, list or map
	// (maxLen 0: no bound); lengthBetween words a violation as "between".
	minLen, maxLen int
	lengthBetween  bool
	// min and max bound an integer when hasRange; rangeBetween words a
	// violation as "between".
	min, max     int64
	hasRange     bool
	rangeBetween bool
	pattern      *pattern // checked on non-empty strings
	enum         []string
}

// need returns r for a member that must be present.
func (r rule) need() rule {
	r.required = true
	return r
}

func lengthRule(lo, hi int) rule     { return rule{minLen: lo, maxLen: hi} }
func rangeRule(lo, hi int64) rule    { return rule{min: lo, max: hi, hasRange: true} }
func enumRule(values ...string) rule { return rule{enum: values} }
func patternRule(p *pattern, lo, hi int) rule {
	return rule{minLen: lo, maxLen: hi, pattern: p}
}

// The rules of the members, by what they hold.
var (
	streamNameRule  = patternRule(namePattern, 1, shardlog.MaxStreamNameLen)
	consumerRule    = patternRule(namePattern, 1, shardlog.MaxConsumerNameLen)
	shardIDRule     = patternRule(namePattern, 1, 128)
	streamARNRule   = patternRule(streamARNPattern, 1, 2048)
	consumerARNRule = patternRule(consumerARNPattern, 1, 2048)
	hashKeyRule     = rule{pattern: hashKeyPattern}
	sequenceRule    = rule{pattern: sequencePattern}
	partitionKey    = lengthRule(1, shardlog.MaxPartitionKeyLen)
	recordData      = rule{maxLen: shardlog.MaxRecordBytes}
	nextTokenRule   = lengthRule(1, 1048576)
	iteratorRule    = lengthRule(1, 512)
	keyIDRule       = lengthRule(1, 2048)
	tagKeyRule      = lengthRule(1, 128)
	listLimit       = rangeRule(1, 10000) // Limit and MaxResults of the listings
	positiveInt     = rangeRule(1, 1<<31-1)
	targetShards    = rangeRule(1, 100000)
	tagLimit        = rangeRule(1, 50)
	tagMapRule      = lengthRule(1, 200) // TagMap: AddTagsToStream, TagResource
	tagKeysRule     = lengthRule(1, 50)  // TagKeyList: RemoveTagsFromStream, UntagResource
	recordsRule     = lengthRule(1, shardlog.MaxPutRecords)
	metricsRule     = rule{minLen: 1, maxLen: 7, lengthBetween: true}
	streamModeRule  = enumRule(string(shardlog.ModeProvisioned), string(shardlog.ModeOnDemand))
	iteratorTypes   = enumRule(string(shardlog.AtSequenceNumber), string(shardlog.AfterSequenceNumber), string(shardlog.TrimHorizon), string(shardlog.Latest), string(shardlog.AtTimestamp))
	shardFilterRule = enumRule(string(shardlog.FilterAfterShardID), string(shardlog.FilterAtTrimHorizon), string(shardlog.FilterFromTrimHorizon),
		string(shardlog.FilterAtLatest), string(shardlog.FilterAtTimestamp), string(shardlog.FilterFromTimestamp))
	scalingRule    = enumRule(shardlog.UniformScaling)
	encryptionRule = enumRule("NONE", "KMS")
	metricRule     = enumRule(append(shardlog.ShardLevelMetrics(), shardlog.AllShardLevelMetrics)...)
)

// A value is one member of a decoded input, as its rule sees it.
type value struct {
	present bool
	kind    valueKind
	s       string // a string
	n       int64  // an integer, or the length of a blob, list or map
	// all is the contents of a list of strings or a map of strings, as
	// Java shows them ("a, b" or "k=v, k2=v2"): echoed in full.
	all string
}

type valueKind uint8

const (
	kindString valueKind = iota
	kindInt
	kindBlob
	kindList
	kindMap
	kindElided  // a list always shown as [...]
	kindStrings // a list of strings, shown in full
)

func str(p *string) value {
	if p == nil {
		return value{}
	}
	return value{present: true, s: *p, n: int64(len(*p))}
}

func num(p *int64) value {
	if p == nil {
		return value{kind: kindInt}
	}
	return value{present: true, kind: kindInt, n: *p}
}

func blob(b []byte) value { return value{present: b != nil, kind: kindBlob, n: int64(len(b))} }

func list[T any](l []T) value { return value{present: l != nil, kind: kindList, n: int64(len(l))} }

func elided[T any](l []T) value { return value{present: l != nil, kind: kindElided, n: int64(len(l))} }

// dict is a map of strings, shown as Java shows a map: {k=v, k2=v2}. The
// service's order is its hash map's; here it is the keys' sorted order,
// so that a message is the same every time.
func dict(m map[string]string) value {
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
	return value{present: m != nil, kind: kindMap, n: int64(len(m)), all: b.String()}
}

// strs is a list of strings, shown as Java shows a list: [a, b].
func strs(l []string) value {
	return value{present: l != nil, kind: kindStrings, n: int64(len(l)), all: strings.Join(l, ", ")}
}

// object is a nested structure, present or not.
func object(ok bool) value { return value{present: ok, kind: kindMap} }

// quoted is the value as messages show it.
func (v value) quoted() string {
	switch v.kind {
	case kindInt:
		return "'" + strconv.FormatInt(v.n, 10) + "'"
	case kindBlob:
		return fmt.Sprintf("'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]'", v.n, v.n)
	case kindList:
		if v.n == 0 {
			return "'[]'"
		}
		return "'[...]'"
	case kindElided:
		return "'[...]'"
	case kindStrings:
		return "'[" + v.all + "]'"
	case kindMap:
		return "'{" + v.all + "}'"
	}
	// Echoed in full, however long, as the service does.
	return "'" + v.s + "'"
}

// holds reports whether v satisfies r, without building a message.
func (r rule) holds(v value) bool {
	ok := true
	r.each(v, func(string) { ok = false })
	return ok
}

// each calls broken with each constraint of r that v breaks, in order;
// "" stands for a required member that is absent.
func (r rule) each(v value, broken func(constraint string)) {
	if !v.present {
		if r.required {
			broken("")
		}
		return
	}
	// The pattern is reported before the length, and an empty string
	// breaks both (the patterns all need a character).
	if r.pattern != nil && v.kind == kindString && !r.pattern.re.MatchString(v.s) {
		broken("Member must satisfy regular expression pattern: " + r.pattern.text)
	}
	if v.kind != kindInt && (v.n < int64(r.minLen) || r.maxLen > 0 && v.n > int64(r.maxLen)) {
		switch {
		case r.lengthBetween:
			broken(fmt.Sprintf("Member must have length between %d and %d", r.minLen, r.maxLen))
		case v.n < int64(r.minLen):
			broken(fmt.Sprintf("Member must have length greater than or equal to %d", r.minLen))
		default:
			broken(fmt.Sprintf("Member must have length less than or equal to %d", r.maxLen))
		}
	}
	if v.kind == kindInt && r.hasRange && (v.n < r.min || v.n > r.max) {
		switch {
		case r.rangeBetween:
			broken(fmt.Sprintf("Member must have value between %d and %d", r.min, r.max))
		case v.n < r.min:
			broken(fmt.Sprintf("Member must have value greater than or equal to %d", r.min))
		default:
			broken(fmt.Sprintf("Member must have value less than or equal to %d", r.max))
		}
	}
	if r.enum != nil && v.kind == kindString {
		for _, e := range r.enum {
			if v.s == e {
				return
			}
		}
		broken("Member must satisfy enum value set: [" + strings.Join(r.enum, ", ") + "]")
	}
}

// violations collects what an input breaks.
type violations struct{ msgs []string }

// check checks the member at path (as Kinesis names it: "streamName",
// "records.3.member.partitionKey") against r. It reports whether the
// member is present.
func (vs *violations) check(path string, v value, r rule) bool {
	r.each(v, func(constraint string) {
		if constraint == "" {
			vs.msgs = append(vs.msgs, "Value null at '"+path+"' failed to satisfy constraint: Member must not be null")
			return
		}
		vs.msgs = append(vs.msgs, "Value "+v.quoted()+" at '"+path+"' failed to satisfy constraint: "+constraint)
	})
	return v.present
}

// err is the ValidationException for what was found, or nil.
func (vs *violations) err() error {
	if len(vs.msgs) == 0 {
		return nil
	}
	return &apiError{code: shardlog.CodeValidation, msg: validationMessage(vs.msgs)}
}

// maxListedViolations is how many violations a message lists; the count
// is of all of them.
const maxListedViolations = 10

// validationMessage is the one place a validation message is built.
func validationMessage(msgs []string) string {
	noun := "error"
	if len(msgs) > 1 {
		noun = "errors"
	}
	listed := msgs[:min(len(msgs), maxListedViolations)]
	return fmt.Sprintf("%d validation %s detected: %s", len(msgs), noun, strings.Join(listed, "; "))
}

// elementLengths is the constraint Kinesis reports, once for the whole
// list or map, when an element (what) of a list or map is outside
// [lo, hi]: what is "Member" for the elements of a list, "Map keys" or
// "Map value" for a map's.
func elementLengths(what string, lo, hi int) string {
	return fmt.Sprintf("%s must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to %d]", what, hi, lo)
}

// checkElements reports the constraint of elementLengths at path, with v
// (the whole list or map) as the value, if any of elems is outside
// [lo, hi] characters.
func (vs *violations) checkElements(path string, v value, elems []string, what string, lo, hi int) {
	for _, e := range elems {
		if n := utf8.RuneCountInString(e); n < lo || n > hi {
			vs.msgs = append(vs.msgs, "Value "+v.quoted()+" at '"+path+"' failed to satisfy constraint: "+elementLengths(what, lo, hi))
			return
		}
	}
}
