package firehoseapi

import (
	"strings"
	"unicode"

	"github.com/sluicehq/sluice/connectors/internal/awsjson"
)

// Request validation as the service does it, with
// connectors/internal/awsjson (shared with the Kinesis API): each member's
// constraints are the API model's (botocore's firehose 2015-08-04 service
// model), and every violation of a request is answered together in one
// ValidationException:
//
//	1 validation error detected: Value 'a b' at 'deliveryStreamName'
//	failed to satisfy constraint: Member must satisfy regular expression
//	pattern: [a-zA-Z0-9_.-]+
//
// Paths are the members' names in lower camel case, list elements as
// "records.1.member.data" (1-based).

type (
	rule  = awsjson.Rule
	value = awsjson.Value
)

func newPattern(text string) *awsjson.Pattern { return awsjson.NewPattern(text) }

func lengthRule(lo, hi int) rule                      { return awsjson.LengthRule(lo, hi) }
func rangeRule(lo, hi int64) rule                     { return awsjson.RangeRule(lo, hi) }
func enumRule(v ...string) rule                       { return awsjson.EnumRule(v...) }
func patternRule(p *awsjson.Pattern, lo, hi int) rule { return awsjson.PatternRule(p, lo, hi) }

func str(p *string) value     { return awsjson.Str(p) }
func num(p *int64) value      { return awsjson.Num(p) }
func blob(b []byte) value     { return awsjson.Blob(b) }
func list[T any](l []T) value { return awsjson.List(l) }
func object(ok bool) value    { return awsjson.Object(ok) }

// violations collects what an input breaks.
type violations struct{ awsjson.Violations }

// check checks the member at path against r and reports whether it is
// present.
func (vs *violations) check(path string, v value, r rule) bool { return vs.Check(path, v, r) }

// err is the ValidationException for what was found, or nil.
func (vs *violations) err() error {
	if len(vs.Msgs) == 0 {
		return nil
	}
	return &apiError{code: codeValidation, msg: awsjson.Message(vs.Msgs)}
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
	paramValue    = rule{MinLen: 1, MaxLen: 5120, Match: notBlank, MatchText: nonBlankPattern}
	httpURLRule   = patternRule(httpsURLPattern, 1, 1000)
	httpNameRule  = rule{MinLen: 1, MaxLen: 256, Match: notBlank, MatchText: nonBlankPattern}
	accessKeyRule = patternRule(anyPattern, 0, 4096)
	attrNameRule  = rule{MinLen: 1, MaxLen: 256, Match: notBlank, MatchText: nonBlankPattern}
	attrValueRule = patternRule(anyPattern, 0, 1024)
	tagListRule   = lengthRule(1, 50)
	tagKeyRule    = rule{MinLen: 1, MaxLen: 128, Match: func(s string) bool { return !strings.HasPrefix(s, "aws:") && tagChars(s) }, MatchText: tagKeyPattern}
	tagValueRule  = rule{MaxLen: 256, Match: tagChars, MatchText: tagValuePattern}
	recordData    = rule{MaxLen: MaxRecordBytes}
	recordsRule   = lengthRule(1, MaxBatchRecords)
	listLimit     = rangeRule(1, 10000)
	tagLimit      = rangeRule(1, 50)
)

func notBlank(s string) bool { return strings.TrimSpace(s) != "" }
