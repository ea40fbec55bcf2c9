package firehoseapi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Request validation as the service does it: each member's constraints
// are the API model's (botocore's firehose 2015-08-04 service model), and
// every violation of a request is answered together in one
// ValidationException:
//
//	1 validation error detected: Value 'a b' at 'deliveryStreamName'
//	failed to satisfy constraint: Member must satisfy regular expression
//	pattern: [a-zA-Z0-9_.-]+
//
// Paths are the members' names in lower camel case, list elements as
// "records.1.member.data" (1-based).

type pattern struct {
	text string
	re   *regexp.Regexp
}

func newPattern(text string) *pattern {
	return &pattern{text: text, re: regexp.MustCompile(`^(?:` + text + `)$`)}
}

// The patterns of the model. Go's regexp has no lookahead: the tag
// patterns (which refuse an "aws:" prefix) and the not-blank pattern are
// checked by hand, quoted as the model writes them.
var (
	namePattern      = newPattern(`[a-zA-Z0-9_.-]+`)
	roleARNPattern   = newPattern(`arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+`)
	bucketARNPattern = newPattern(`arn:.*:s3:::[\w\.\-]{1,255}`)
	streamARNPattern = newPattern(`arn:.*:kinesis:[a-zA-Z0-9\-]+:\d{12}:stream/[a-zA-Z0-9_.-]+`)
	versionPattern   = newPattern(`[0-9]+`)
	destIDPattern    = newPattern(`[a-zA-Z0-9-]+`)
	extensionPattern = newPattern(`^$|\.[0-9a-z!\-_.*'()]+`)
	timeZonePattern  = newPattern(`^$|[a-zA-Z/_]+`)
	httpsURLPattern  = newPattern(`https://.*`)
	anyPattern       = newPattern(`.*`)
)

const (
	tagKeyPattern   = `^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`
	tagValuePattern = `^[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`
	nonBlankPattern = `^(?!\s*$).+`
)

// tagChars reports whether s holds only the tag patterns' characters.
func tagChars(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.In(r, unicode.Z) && !unicode.IsNumber(r) && !strings.ContainsRune("_.:/=+-@%", r) {
			return false
		}
	}
	return true
}

// rule is the constraints of one member.
type rule struct {
	required       bool
	minLen, maxLen int // of a string, blob or list (maxLen 0: no bound)
	min, max       int64
	hasRange       bool
	hasMax         bool
	pattern        *pattern
	// check is a hand-written pattern (text: patternText).
	check       func(string) bool
	patternText string
	enum        []string
}

func (r rule) need() rule { r.required = true; return r }

func lengthRule(lo, hi int) rule { return rule{minLen: lo, maxLen: hi} }
func rangeRule(lo, hi int64) rule {
	return rule{min: lo, max: hi, hasRange: true, hasMax: true}
}
func minRule(lo int64) rule                   { return rule{min: lo, hasRange: true} }
func enumRule(v ...string) rule               { return rule{enum: v} }
func patternRule(p *pattern, lo, hi int) rule { return rule{minLen: lo, maxLen: hi, pattern: p} }

// value is one member of a decoded input as a rule sees it.
type value struct {
	present bool
	kind    valueKind
	s       string
	n       int64 // an integer, or the length of a string, blob or list
}

type valueKind uint8

const (
	kindString valueKind = iota
	kindInt
	kindBlob
	kindList
)

func str(p *string) value {
	if p == nil {
		return value{}
	}
	return value{present: true, s: *p, n: int64(len([]rune(*p)))}
}

func num(p *int64) value {
	if p == nil {
		return value{kind: kindInt}
	}
	return value{present: true, kind: kindInt, n: *p}
}

func blob(b []byte) value { return value{present: b != nil, kind: kindBlob, n: int64(len(b))} }

func list[T any](l []T) value { return value{present: l != nil, kind: kindList, n: int64(len(l))} }

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
	}
	return "'" + v.s + "'"
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
	if v.kind == kindString {
		if r.pattern != nil && !r.pattern.re.MatchString(v.s) {
			broken("Member must satisfy regular expression pattern: " + r.pattern.text)
		}
		if r.check != nil && !r.check(v.s) {
			broken("Member must satisfy regular expression pattern: " + r.patternText)
		}
	}
	if v.kind != kindInt {
		switch {
		case v.n < int64(r.minLen):
			broken(fmt.Sprintf("Member must have length greater than or equal to %d", r.minLen))
		case r.maxLen > 0 && v.n > int64(r.maxLen):
			broken(fmt.Sprintf("Member must have length less than or equal to %d", r.maxLen))
		}
	}
	if v.kind == kindInt && r.hasRange {
		switch {
		case v.n < r.min:
			broken(fmt.Sprintf("Member must have value greater than or equal to %d", r.min))
		case r.hasMax && v.n > r.max:
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

// check checks the member at path against r and reports whether it is
// present.
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

// maxListed is how many violations a message lists; the count is of all.
const maxListed = 10

func (vs *violations) err() error {
	if len(vs.msgs) == 0 {
		return nil
	}
	noun := "error"
	if len(vs.msgs) > 1 {
		noun = "errors"
	}
	listed := vs.msgs[:min(len(vs.msgs), maxListed)]
	return &apiError{code: codeValidation, msg: fmt.Sprintf("%d validation %s detected: %s", len(vs.msgs), noun, strings.Join(listed, "; "))}
}

// The rules of the members, by what they hold.
var (
	nameRule      = patternRule(namePattern, 1, 64)
	roleARNRule   = patternRule(roleARNPattern, 1, 512)
	bucketARNRule = patternRule(bucketARNPattern, 1, 2048)
	streamARNRule = patternRule(streamARNPattern, 1, 512)
	prefixRule    = patternRule(anyPattern, 0, 1024)
	versionRule   = patternRule(versionPattern, 1, 50)
	destIDRule    = patternRule(destIDPattern, 1, 100)
	extensionRule = patternRule(extensionPattern, 0, 128)
	timeZoneRule  = patternRule(timeZonePattern, 0, 50)
	sizeRule      = rangeRule(1, 128)
	httpSizeRule  = rangeRule(1, 64)
	intervalRule  = rangeRule(0, 900)
	retryRule     = rangeRule(0, 7200)
	throughput    = rangeRule(1, 100)
	compression   = enumRule("UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY")
	streamTypes   = enumRule(TypeDirectPut, TypeKinesisSource, "MSKAsSource", "DatabaseAsSource")
	s3BackupMode  = enumRule("Disabled", "Enabled")
	httpBackup    = enumRule("FailedDataOnly", "AllData")
	contentEnc    = enumRule("NONE", "GZIP")
	processorType = enumRule("RecordDeAggregation", "Decompression", "CloudWatchLogProcessing", "Lambda", "MetadataExtraction", "AppendDelimiterToRecord")
	paramName     = enumRule("LambdaArn", "NumberOfRetries", "MetadataExtractionQuery", "JsonParsingEngine", "RoleArn", "BufferSizeInMBs", "BufferIntervalInSeconds", "SubRecordType", "Delimiter", "CompressionFormat", "DataMessageExtraction")
	paramValue    = rule{minLen: 1, maxLen: 5120, check: notBlank, patternText: nonBlankPattern}
	httpURLRule   = patternRule(httpsURLPattern, 1, 1000)
	httpNameRule  = rule{minLen: 1, maxLen: 256, check: notBlank, patternText: nonBlankPattern}
	accessKeyRule = patternRule(anyPattern, 0, 4096)
	attrNameRule  = rule{minLen: 1, maxLen: 256, check: notBlank, patternText: nonBlankPattern}
	attrValueRule = patternRule(anyPattern, 0, 1024)
	tagListRule   = lengthRule(1, 50)
	tagKeyRule    = rule{minLen: 1, maxLen: 128, check: func(s string) bool { return !strings.HasPrefix(s, "aws:") && tagChars(s) }, patternText: tagKeyPattern}
	tagValueRule  = rule{minLen: 0, maxLen: 256, check: tagChars, patternText: tagValuePattern}
	recordData    = rule{maxLen: MaxRecordBytes}
	recordsRule   = lengthRule(1, MaxBatchRecords)
	listLimit     = rangeRule(1, 10000)
	tagLimit      = rangeRule(1, 50)
)

func notBlank(s string) bool { return strings.TrimSpace(s) != "" }
