package shardlog

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// ErrorCode is the kind of a refusal, named as the Kinesis error it is
// ("ResourceNotFoundException"): what a client matches on.
type ErrorCode string

// The kinds of refusal the log returns.
const (
	CodeResourceNotFound      ErrorCode = "ResourceNotFoundException"
	CodeResourceInUse         ErrorCode = "ResourceInUseException"
	CodeInvalidArgument       ErrorCode = "InvalidArgumentException"
	CodeLimitExceeded         ErrorCode = "LimitExceededException"
	CodeProvisionedThroughput ErrorCode = "ProvisionedThroughputExceededException"
	CodeExpiredIterator       ErrorCode = "ExpiredIteratorException"
	CodeValidation            ErrorCode = "ValidationException"
	CodeInternalFailure       ErrorCode = "InternalFailure"
)

// Reason says precisely why the log refused a call; an Error's other
// fields hold the facts that go with it (see each reason).
type Reason uint8

// The reasons, grouped by what they concern. The facts each sets are named
// after it.
const (
	ReasonUnknown Reason = iota

	// Streams.
	ReasonStreamNotFound    // Stream
	ReasonStreamARNNotFound // ARN: an ARN of another region or account
	ReasonNoStreamRef       // neither a name nor an ARN
	ReasonStreamRefMismatch // Stream, ARN: they name different streams
	ReasonStreamNotActive   // Stream, Value: the status it is in
	ReasonStreamExists      // Stream
	ReasonStreamNameInvalid // Value
	ReasonShardCountInvalid // Requested
	ReasonShardCountOnDemand
	ReasonStreamModeInvalid       // Value
	ReasonStreamModeUnchanged     // Stream, Value: the mode
	ReasonStreamHasConsumers      // Stream
	ReasonOnDemandStreamLimit     // Limit
	ReasonShardLimit              // Current: open shards of the account, Limit, Requested: shards the call would add
	ReasonRetentionTooShort       // Requested, Limit (hours)
	ReasonRetentionTooLong        // Requested, Limit (hours)
	ReasonRetentionNotIncrease    // Stream, Requested, Current (hours)
	ReasonRetentionNotDecrease    // Stream, Requested, Current (hours)
	ReasonTooManyTagsOnCreate     // Stream, Limit
	ReasonTooManyTags             // Stream, Limit
	ReasonTagKeyLength            // Value: the key
	ReasonTagValueLength          // Value: the key
	ReasonTagKeyReserved          // Value: the key
	ReasonShardNotFound           // Stream, Shard
	ReasonShardFilterTypeInvalid  // Value
	ReasonShardFilterNoShardID    // (AFTER_SHARD_ID without ShardID)
	ReasonShardFilterNoTimestamp  // Value: the filter type
	ReasonShardCountOfOnDemand    // Stream: UpdateShardCount of an ON_DEMAND stream
	ReasonScalingTypeInvalid      // Value
	ReasonTargetShardCountInvalid // Requested, Limit
	ReasonTargetOverDouble        // Stream, Requested, Current
	ReasonTargetUnderHalf         // Stream, Requested, Current
	ReasonTargetIsCurrent         // Stream, Current
	ReasonShardNotOpen            // Stream, Shard: already split or merged
	ReasonSplitKeyOutOfRange      // Stream, Shard, Value, Range: the shard's
	ReasonShardsNotAdjacent       // Stream, Shard, OtherShard

	// Records.
	ReasonPartitionKeyLength        // Index, Value
	ReasonDataTooLong               // Index, Requested: its length, Limit
	ReasonRecordTooLarge            // Requested: key and data, Limit
	ReasonExplicitHashKeyInvalid    // Value
	ReasonOrderingSequenceInvalid   // Value: SequenceNumberForOrdering
	ReasonNoRecords                 // (PutRecords of none)
	ReasonTooManyRecords            // Requested, Limit
	ReasonRecordsTooLarge           // Requested, Limit: bytes of a PutRecords
	ReasonWriteThrottled            // Stream, Shard
	ReasonReadThrottled             // Stream, Shard
	ReasonNoShardForHashKey         // Stream, Value: the hash key (an internal failure)
	ReasonWriteFailed               // Stream, Shard, Err: one record's batch failed to store
	ReasonIteratorTypeMissing       //
	ReasonIteratorTypeInvalid       // Value
	ReasonStartingSequenceMissing   // Value: the iterator type
	ReasonStartingSequenceInvalid   // Stream, Shard, Value
	ReasonStartingSequenceElsewhere // Shard, OtherShard: the shard it belongs to, Value
	ReasonTimestampMissing          //
	ReasonTimestampInFuture         // Time, Now
	ReasonGetRecordsLimit           // Requested, Limit
	ReasonIteratorExpired           // Time: when it was issued, Now, Limit: the TTL in ms

	// Consumers.
	ReasonConsumerNameInvalid   // Value
	ReasonConsumerExists        // Stream, Consumer: its ARN
	ReasonConsumerLimit         // Stream, Limit
	ReasonConsumerARNInvalid    // Consumer
	ReasonConsumerNotFound      // Consumer: the ARN given
	ReasonConsumerNameNotFound  // Stream, Consumer: the name given
	ReasonNoConsumerRef         // neither an ARN nor a stream ARN and name
	ReasonConsumerNotActive     // Consumer, Value: its status
	ReasonSubscribedTooSoon     // Consumer, Shard
	ReasonSubscriptionTakenOver // Consumer, Shard

	// Added later; appended so that the values above keep their numbers.
	ReasonTagCharacters            // Value: the key or value with a character outside the allowed set
	ReasonTagPercent               // Stream, Value: the key or value with a '%'
	ReasonStartingSequenceUnwanted // Value: the iterator type (TRIM_HORIZON, LATEST) given a sequence number
	ReasonOrderingSequenceForeign  // Stream, Value: a SequenceNumberForOrdering this log did not issue
	ReasonShardIDUnreadable        // Stream, Value: a shard id with no shard number in the int range
)

// Error is a refusal of the log: its kind (Code, as Kinesis names it), the
// precise Reason, and the facts of the case. Error() is a message for Go
// programs; the Kinesis server (kinesisapi) renders the service's own
// message from the same facts. Compare with errors.Is against the
// sentinels below, which match on Code.
type Error struct {
	Code   ErrorCode
	Reason Reason

	Stream     string // the stream's name
	ARN        string // a stream ARN as given
	Shard      string // the shard the call was about
	OtherShard string // the second shard of a merge; the shard a sequence number belongs to
	Consumer   string // a consumer's ARN, or its name (ReasonConsumerNameNotFound)
	Value      string // the value refused, as given: a name, key, type, mode, status
	Index      int    // the 1-based record of a PutRecords; 0 for PutRecord
	Requested  int64  // a count, size or period asked for
	Current    int64  // what the stream or account has now
	Limit      int64  // the bound the call would break
	Range      HashKeyRange
	Time       time.Time // a time given or recorded: AT_TIMESTAMP, an iterator's issue time
	Now        time.Time // the log's time when it refused
	Err        error     // the cause of an internal failure
}

// Unwrap returns the cause of an internal failure.
func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Error returns "shardlog: " and what is wrong, with the facts.
func (e *Error) Error() string { return "shardlog: " + e.describe() }

func (e *Error) describe() string {
	switch e.Reason {
	case ReasonStreamNotFound:
		return fmt.Sprintf("stream %q not found", e.Stream)
	case ReasonStreamARNNotFound:
		return fmt.Sprintf("stream ARN %s is not of this log's region and account", e.ARN)
	case ReasonNoStreamRef:
		return "no stream name or ARN given"
	case ReasonStreamRefMismatch:
		return fmt.Sprintf("stream ARN %s does not name stream %q", e.ARN, e.Stream)
	case ReasonStreamNotActive:
		return fmt.Sprintf("stream %q is %s, not ACTIVE", e.Stream, e.Value)
	case ReasonStreamExists:
		return fmt.Sprintf("stream %q already exists", e.Stream)
	case ReasonStreamNameInvalid:
		return fmt.Sprintf("stream name %q is not 1 to %d characters of %s", e.Value, MaxStreamNameLen, NamePattern)
	case ReasonShardCountInvalid:
		return fmt.Sprintf("shard count %d is below 1", e.Requested)
	case ReasonShardCountOnDemand:
		return "an ON_DEMAND stream takes no shard count"
	case ReasonStreamModeInvalid:
		return fmt.Sprintf("unknown stream mode %q", e.Value)
	case ReasonStreamModeUnchanged:
		return fmt.Sprintf("stream %q is already %s", e.Stream, e.Value)
	case ReasonStreamHasConsumers:
		return fmt.Sprintf("stream %q has registered consumers (delete with enforceConsumerDeletion)", e.Stream)
	case ReasonOnDemandStreamLimit:
		return fmt.Sprintf("the log has its %d ON_DEMAND streams", e.Limit)
	case ReasonShardLimit:
		return fmt.Sprintf("%d more shards would take the log's %d open shards over its limit of %d", e.Requested, e.Current, e.Limit)
	case ReasonRetentionTooShort:
		return fmt.Sprintf("retention of %d hours is below the minimum of %d", e.Requested, e.Limit)
	case ReasonRetentionTooLong:
		return fmt.Sprintf("retention of %d hours is above the maximum of %d", e.Requested, e.Limit)
	case ReasonRetentionNotIncrease:
		return fmt.Sprintf("stream %q: an increase to %d hours is below the current %d", e.Stream, e.Requested, e.Current)
	case ReasonRetentionNotDecrease:
		return fmt.Sprintf("stream %q: a decrease to %d hours is above the current %d", e.Stream, e.Requested, e.Current)
	case ReasonTooManyTagsOnCreate, ReasonTooManyTags:
		return fmt.Sprintf("stream %q would have more than %d tags", e.Stream, e.Limit)
	case ReasonTagKeyLength:
		return fmt.Sprintf("tag key %q is not 1 to 128 characters", e.Value)
	case ReasonTagValueLength:
		return fmt.Sprintf("the value of tag %q is over 256 characters", e.Value)
	case ReasonTagKeyReserved:
		return fmt.Sprintf("tag key %q has the reserved prefix aws:", e.Value)
	case ReasonShardNotFound:
		return fmt.Sprintf("stream %q has no shard %s", e.Stream, e.Shard)
	case ReasonShardFilterTypeInvalid:
		return fmt.Sprintf("unknown shard filter type %q", e.Value)
	case ReasonShardFilterNoShardID:
		return "shard filter AFTER_SHARD_ID needs a ShardID"
	case ReasonShardFilterNoTimestamp:
		return fmt.Sprintf("shard filter %s needs a Timestamp", e.Value)
	case ReasonShardCountOfOnDemand:
		return fmt.Sprintf("stream %q is ON_DEMAND: its shard count is not set by UpdateShardCount", e.Stream)
	case ReasonScalingTypeInvalid:
		return fmt.Sprintf("unknown scaling type %q", e.Value)
	case ReasonTargetShardCountInvalid:
		return fmt.Sprintf("target shard count %d is outside [1, %d]", e.Requested, e.Limit)
	case ReasonTargetOverDouble:
		return fmt.Sprintf("stream %q: target shard count %d is more than twice the %d open shards", e.Stream, e.Requested, e.Current)
	case ReasonTargetUnderHalf:
		return fmt.Sprintf("stream %q: target shard count %d is less than half the %d open shards", e.Stream, e.Requested, e.Current)
	case ReasonTargetIsCurrent:
		return fmt.Sprintf("stream %q already has %d open shards", e.Stream, e.Current)
	case ReasonShardNotOpen:
		return fmt.Sprintf("stream %q: shard %s has already been split or merged", e.Stream, e.Shard)
	case ReasonSplitKeyOutOfRange:
		return fmt.Sprintf("stream %q: split key %s is not inside shard %s's range (%s, %s)", e.Stream, e.Value, e.Shard, e.Range.Start.Add(1), e.Range.End)
	case ReasonShardsNotAdjacent:
		return fmt.Sprintf("stream %q: shards %s and %s are not adjacent", e.Stream, e.Shard, e.OtherShard)
	case ReasonPartitionKeyLength:
		return fmt.Sprintf("%spartition key of %d bytes is not 1 to %d", e.record(), len(e.Value), MaxPartitionKeyLen)
	case ReasonDataTooLong:
		return fmt.Sprintf("%sdata of %d bytes is over %d", e.record(), e.Requested, e.Limit)
	case ReasonRecordTooLarge:
		return fmt.Sprintf("%srecord of %d bytes (partition key and data) is over %d", e.record(), e.Requested, e.Limit)
	case ReasonExplicitHashKeyInvalid:
		return fmt.Sprintf("%sExplicitHashKey %q is not a decimal in [0, 2^128-1]", e.record(), e.Value)
	case ReasonOrderingSequenceInvalid:
		return fmt.Sprintf("SequenceNumberForOrdering %q is not a sequence number", e.Value)
	case ReasonNoRecords:
		return "PutRecords of no records"
	case ReasonTooManyRecords:
		return fmt.Sprintf("PutRecords of %d records, over %d", e.Requested, e.Limit)
	case ReasonRecordsTooLarge:
		return fmt.Sprintf("PutRecords of %d bytes, over %d", e.Requested, e.Limit)
	case ReasonWriteThrottled:
		return fmt.Sprintf("stream %q shard %s: write throughput exceeded", e.Stream, e.Shard)
	case ReasonReadThrottled:
		return fmt.Sprintf("stream %q shard %s: read throughput exceeded", e.Stream, e.Shard)
	case ReasonNoShardForHashKey:
		return fmt.Sprintf("stream %q: no open shard covers hash key %s", e.Stream, e.Value)
	case ReasonWriteFailed:
		return fmt.Sprintf("stream %q shard %s: write failed: %v", e.Stream, e.Shard, e.Err)
	case ReasonIteratorTypeMissing:
		return "no iterator type given"
	case ReasonIteratorTypeInvalid:
		return fmt.Sprintf("unknown iterator type %q", e.Value)
	case ReasonStartingSequenceMissing:
		return fmt.Sprintf("iterator type %s needs a sequence number", e.Value)
	case ReasonStartingSequenceInvalid:
		return fmt.Sprintf("stream %q shard %s: %q is not a sequence number of this log", e.Stream, e.Shard, e.Value)
	case ReasonStartingSequenceElsewhere:
		return fmt.Sprintf("sequence number %s belongs to %s, not %s", e.Value, e.OtherShard, e.Shard)
	case ReasonTimestampMissing:
		return "iterator type AT_TIMESTAMP needs a timestamp"
	case ReasonTimestampInFuture:
		return fmt.Sprintf("timestamp %s is after the log's time %s", e.Time.UTC().Format(time.RFC3339Nano), e.Now.UTC().Format(time.RFC3339Nano))
	case ReasonGetRecordsLimit:
		return fmt.Sprintf("GetRecords limit %d is outside [1, %d]", e.Requested, e.Limit)
	case ReasonIteratorExpired:
		return fmt.Sprintf("shard iterator issued at %s expired after %dms", e.Time.UTC().Format(time.RFC3339Nano), e.Limit)
	case ReasonShardIDUnreadable:
		return fmt.Sprintf("stream %q: %q names no shard number", e.Stream, e.Value)
	case ReasonTagCharacters:
		return fmt.Sprintf("tag %q has a character outside letters, digits, white space and _ . / = + - %% @ :", e.Value)
	case ReasonTagPercent:
		return fmt.Sprintf("stream %q: tag %q has a '%%'", e.Stream, e.Value)
	case ReasonStartingSequenceUnwanted:
		return fmt.Sprintf("iterator type %s takes no sequence number", e.Value)
	case ReasonOrderingSequenceForeign:
		return fmt.Sprintf("stream %q: SequenceNumberForOrdering %s is not a sequence number of this log", e.Stream, e.Value)
	case ReasonConsumerNameInvalid:
		return fmt.Sprintf("consumer name %q is not 1 to %d characters of %s", e.Value, MaxConsumerNameLen, NamePattern)
	case ReasonConsumerExists:
		return fmt.Sprintf("stream %q already has consumer %s", e.Stream, e.Consumer)
	case ReasonConsumerLimit:
		return fmt.Sprintf("stream %q has its %d consumers", e.Stream, e.Limit)
	case ReasonConsumerARNInvalid:
		return fmt.Sprintf("%s is not a consumer ARN", e.Consumer)
	case ReasonConsumerNotFound:
		return fmt.Sprintf("consumer %s not found", e.Consumer)
	case ReasonConsumerNameNotFound:
		return fmt.Sprintf("stream %q has no consumer %q", e.Stream, e.Consumer)
	case ReasonNoConsumerRef:
		return "no consumer ARN, nor a stream ARN and consumer name, given"
	case ReasonConsumerNotActive:
		return fmt.Sprintf("consumer %s is %s, not ACTIVE", e.Consumer, e.Value)
	case ReasonSubscribedTooSoon:
		return fmt.Sprintf("consumer %s subscribed to shard %s less than 5 seconds ago", e.Consumer, e.Shard)
	case ReasonSubscriptionTakenOver:
		return fmt.Sprintf("the subscription of consumer %s to shard %s was taken over by a newer one", e.Consumer, e.Shard)
	}
	if e.Err != nil {
		return string(e.Code) + ": " + e.Err.Error()
	}
	return string(e.Code)
}

// record names the record of a PutRecords an error is about.
func (e *Error) record() string {
	if e.Index == 0 {
		return ""
	}
	return fmt.Sprintf("record %d: ", e.Index)
}

// Sentinels for errors.Is.
var (
	ErrResourceNotFound      = &Error{Code: CodeResourceNotFound}
	ErrResourceInUse         = &Error{Code: CodeResourceInUse}
	ErrInvalidArgument       = &Error{Code: CodeInvalidArgument}
	ErrLimitExceeded         = &Error{Code: CodeLimitExceeded}
	ErrThroughputExceeded    = &Error{Code: CodeProvisionedThroughput}
	ErrExpiredIterator       = &Error{Code: CodeExpiredIterator}
	ErrValidation            = &Error{Code: CodeValidation}
	ErrClosed                = errors.New("shardlog: log closed")
	ErrSubscriptionCompleted = errors.New("shardlog: subscription completed")
)

// CodeOf returns the kind of err: its *Error's code, or InternalFailure for
// any other error.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternalFailure
}

// refuse returns an *Error of the given kind and reason; the caller fills
// in the facts.
func refuse(code ErrorCode, reason Reason) *Error { return &Error{Code: code, Reason: reason} }

// Names of streams and consumers, and shard ids as Kinesis accepts them.
const (
	// NamePattern is the form of stream and consumer names.
	NamePattern        = `[a-zA-Z0-9_.-]+`
	MaxStreamNameLen   = 128
	MaxConsumerNameLen = 128
)

var nameRE = regexp.MustCompile(`^(?:` + NamePattern + `)$`)

// validName reports whether s is 1 to max characters of NamePattern.
func validName(s string, max int) bool {
	return len(s) >= 1 && len(s) <= max && nameRE.MatchString(s)
}
