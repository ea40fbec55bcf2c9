package kinesisapi

import (
	"github.com/sluicehq/sluice/connectors/internal/awsjson"
	"github.com/sluicehq/sluice/connectors/shardlog"
)

// Request validation as Kinesis does it: every member of an input shape
// has constraints (the API model's), an input's check method lists its
// members with their rules in the order Kinesis reports them, and the
// violations are answered together as one ValidationException. The rules,
// values and the message are connectors/internal/awsjson's, shared with
// the Firehose API; the names below are this package's short forms.

type (
	pattern = awsjson.Pattern
	rule    = awsjson.Rule
	value   = awsjson.Value
)

func newPattern(text string) *pattern { return awsjson.NewPattern(text) }

// The patterns of the Kinesis API model.
var (
	namePattern        = newPattern(shardlog.NamePattern) // stream and consumer names, shard ids
	streamARNPattern   = newPattern(`arn:aws.*:kinesis:.*:\d{12}:stream/\S+`)
	consumerARNPattern = newPattern(`^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+`)
	hashKeyPattern     = newPattern(`0|([1-9]\d{0,38})`)
	sequencePattern    = newPattern(`0|([1-9]\d{0,128})`)
)

// The rules of the members, by what they hold.
var (
	streamNameRule  = patternRule(namePattern, 1, shardlog.MaxStreamNameLen)
	consumerRule    = patternRule(namePattern, 1, shardlog.MaxConsumerNameLen)
	shardIDRule     = patternRule(namePattern, 1, 128)
	streamARNRule   = patternRule(streamARNPattern, 1, 2048)
	consumerARNRule = patternRule(consumerARNPattern, 1, 2048)
	hashKeyRule     = rule{Pattern: hashKeyPattern}
	sequenceRule    = rule{Pattern: sequencePattern}
	partitionKey    = lengthRule(1, shardlog.MaxPartitionKeyLen)
	recordData      = rule{MaxLen: shardlog.MaxRecordBytes}
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
	metricsRule     = rule{MinLen: 1, MaxLen: 7, LengthBetween: true}
	streamModeRule  = enumRule(string(shardlog.ModeProvisioned), string(shardlog.ModeOnDemand))
	iteratorTypes   = enumRule(string(shardlog.AtSequenceNumber), string(shardlog.AfterSequenceNumber), string(shardlog.TrimHorizon), string(shardlog.Latest), string(shardlog.AtTimestamp))
	shardFilterRule = enumRule(string(shardlog.FilterAfterShardID), string(shardlog.FilterAtTrimHorizon), string(shardlog.FilterFromTrimHorizon),
		string(shardlog.FilterAtLatest), string(shardlog.FilterAtTimestamp), string(shardlog.FilterFromTimestamp))
	scalingRule    = enumRule(shardlog.UniformScaling)
	encryptionRule = enumRule("NONE", "KMS")
	metricRule     = enumRule(append(shardlog.ShardLevelMetrics(), shardlog.AllShardLevelMetrics)...)
)

func lengthRule(lo, hi int) rule              { return awsjson.LengthRule(lo, hi) }
func rangeRule(lo, hi int64) rule             { return awsjson.RangeRule(lo, hi) }
func enumRule(values ...string) rule          { return awsjson.EnumRule(values...) }
func patternRule(p *pattern, lo, hi int) rule { return awsjson.PatternRule(p, lo, hi) }

func str(p *string) value                    { return awsjson.Str(p) }
func num(p *int64) value                     { return awsjson.Num(p) }
func blob(b []byte) value                    { return awsjson.Blob(b) }
func list[T any](l []T) value                { return awsjson.List(l) }
func elided[T any](l []T) value              { return awsjson.Elided(l) }
func dict(m map[string]string) value         { return awsjson.Dict(m) }
func strs(l []string) value                  { return awsjson.Strs(l) }
func object(ok bool) value                   { return awsjson.Object(ok) }
func validationMessage(msgs []string) string { return awsjson.Message(msgs) }

// violations collects what an input breaks.
type violations struct{ awsjson.Violations }

// check checks the member at path against r and reports whether the
// member is present.
func (vs *violations) check(path string, v value, r rule) bool { return vs.Check(path, v, r) }

// checkElements: see awsjson.Violations.CheckElements.
func (vs *violations) checkElements(path string, v value, elems []string, what string, lo, hi int) {
	vs.CheckElements(path, v, elems, what, lo, hi)
}

// err is the ValidationException for what was found, or nil.
func (vs *violations) err() error {
	if len(vs.Msgs) == 0 {
		return nil
	}
	return &apiError{code: shardlog.CodeValidation, msg: validationMessage(vs.Msgs)}
}
