package kinesisapi

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/sluicehq/sluice/connectors/internal/awsjson"
	"github.com/sluicehq/sluice/connectors/shardlog"
)

// Every message a client sees is made here (and, for validation, in
// validate.go): the service's texts, from the log's typed refusals or
// from what the server itself refuses.

// The error names only the server answers with.
const (
	codeSerialization     shardlog.ErrorCode = "SerializationException"
	codeUnknownOperation  shardlog.ErrorCode = "UnknownOperationException"
	codeServiceUnavailble shardlog.ErrorCode = "ServiceUnavailable"
	codeMissingAuthToken  shardlog.ErrorCode = "MissingAuthenticationTokenException"
	codeExpiredNextToken  shardlog.ErrorCode = "ExpiredNextTokenException"
)

// statusOf is the status Kinesis answers an error with: 500 for internal
// failures, 503 when unavailable, else 400 — a missing authentication
// token included, as the service answers a routable request (403 is its
// front end's, for requests it cannot route: see writeXMLError).
func statusOf(c shardlog.ErrorCode) int {
	switch c {
	case shardlog.CodeInternalFailure:
		return 500
	case codeServiceUnavailble:
		return 503
	}
	return 400
}

// apiError is a refusal of the server's own: an error name and the
// service's message.
type apiError struct {
	code shardlog.ErrorCode
	msg  string
}

func (e *apiError) Error() string { return "kinesisapi: " + string(e.code) + ": " + e.msg }

var (
	errMissingAuth       = &apiError{codeMissingAuthToken, "Missing Authentication Token"}
	errBadIterator       = &apiError{shardlog.CodeInvalidArgument, "Invalid ShardIterator."}
	errBadNextToken      = &apiError{shardlog.CodeInvalidArgument, "Invalid NextToken."}
	errExpiredNextToken  = &apiError{codeExpiredNextToken, "The timestamp of the NextToken has expired. NextToken expires after 300 seconds."}
	errNeedShardCount    = &apiError{shardlog.CodeInvalidArgument, "ShardCount is required for streams in PROVISIONED mode."}
	errTokenAndStream    = &apiError{shardlog.CodeInvalidArgument, "NextToken and StreamName cannot be provided together."}
	errTokenAndListing   = &apiError{shardlog.CodeInvalidArgument, "NextToken cannot be provided together with ExclusiveStartShardId, ShardFilter or StreamCreationTimestamp."}
	errNoTokenNorStream  = &apiError{shardlog.CodeInvalidArgument, "Either NextToken or StreamName must be provided."}
	errInternal          = &apiError{shardlog.CodeInternalFailure, "Internal service failure."}
	errShuttingDown      = &apiError{codeServiceUnavailble, "Service is shutting down."}
	errUnreadableRequest = "Request body could not be read: "
	// errUnknownOperation has no message, as the service's has none.
	errUnknownOperation = &apiError{code: codeUnknownOperation}
	errNoOperationName  = "Unable to determine service/operation name to be authorized"
)

// answer is what a client is told of err in operation op: an error name
// and message. internal reports an error that is not a refusal (an I/O
// failure, a bug), which the client sees as InternalFailure.
func (s *Server) answer(op string, err error) (code shardlog.ErrorCode, msg string, internal bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.code, ae.msg, false
	}
	var e *shardlog.Error
	if errors.As(err, &e) {
		return e.Code, s.message(op, e), false
	}
	if errors.Is(err, shardlog.ErrClosed) {
		return errShuttingDown.code, errShuttingDown.msg, false
	}
	return errInternal.code, errInternal.msg, true
}

// iteratorTypeMix opens the refusal of an iterator type given with the
// wrong company (a sequence number missing, or one it would ignore).
const iteratorTypeMix = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "

const javaDate = "Mon Jan 02 15:04:05 MST 2006"

// message is the service's message for a refusal of the log in operation
// op, made from the refusal's facts.
func (s *Server) message(op string, e *shardlog.Error) string {
	acct := s.account
	switch e.Reason {
	case shardlog.ReasonStreamNotFound:
		return fmt.Sprintf("Stream %s under account %s not found.", e.Stream, acct)
	case shardlog.ReasonStreamARNNotFound:
		return fmt.Sprintf("Stream %s not found.", e.ARN)
	case shardlog.ReasonNoStreamRef:
		return "Neither StreamName nor StreamARN was provided."
	case shardlog.ReasonStreamRefMismatch:
		return fmt.Sprintf("StreamARN %s and StreamName %s do not refer to the same stream.", e.ARN, e.Stream)
	case shardlog.ReasonStreamNotActive:
		return fmt.Sprintf("Stream %s under account %s not ACTIVE, instead in state %s", e.Stream, acct, e.Value)
	case shardlog.ReasonStreamExists:
		return fmt.Sprintf("Stream %s under account %s already exists.", e.Stream, acct)
	case shardlog.ReasonShardCountOnDemand:
		return "ShardCount is not supported for streams in ON_DEMAND mode."
	case shardlog.ReasonStreamModeUnchanged:
		return fmt.Sprintf("Stream %s under account %s is already in %s mode.", e.Stream, acct, e.Value)
	case shardlog.ReasonStreamHasConsumers:
		return fmt.Sprintf("Stream %s under account %s has registered consumers. Set EnforceConsumerDeletion to true to delete the stream along with its consumers.", e.Stream, acct)
	case shardlog.ReasonOnDemandStreamLimit:
		return fmt.Sprintf("This request would exceed the on-demand stream count limit of %d for account %s.", e.Limit, acct)
	case shardlog.ReasonShardLimit:
		return fmt.Sprintf("This request would exceed the shard limit for the account %s in %s. Current shard count for the account: %d. Limit: %d. Number of additional shards that would have resulted from this request: %d. Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
			acct, s.region, e.Current, e.Limit, e.Requested)
	case shardlog.ReasonRetentionTooShort:
		return fmt.Sprintf("Minimum allowed retention period is %d hours. Requested retention period (%d hours) is too short.", e.Limit, e.Requested)
	case shardlog.ReasonRetentionTooLong:
		return fmt.Sprintf("Maximum allowed retention period is %d hours. Requested retention period (%d hours) is too long.", e.Limit, e.Requested)
	case shardlog.ReasonRetentionNotIncrease:
		return fmt.Sprintf("Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API.", e.Requested, e.Stream, e.Current)
	case shardlog.ReasonRetentionNotDecrease:
		return fmt.Sprintf("Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API.", e.Requested, e.Stream, e.Current)
	case shardlog.ReasonTooManyTagsOnCreate:
		return fmt.Sprintf("Failed to create stream %s under account %s because a given stream cannot have more than %d tags.", e.Stream, acct, e.Limit)
	case shardlog.ReasonTooManyTags:
		return fmt.Sprintf("Failed to add tags to stream %s under account %s because a given stream cannot have more than %d tags.", e.Stream, acct, e.Limit)
	case shardlog.ReasonTagKeyLength:
		return fmt.Sprintf("Tag key %q must be between 1 and 128 characters long.", e.Value)
	case shardlog.ReasonTagValueLength:
		return fmt.Sprintf("Tag value for key %q must be at most 256 characters long.", e.Value)
	case shardlog.ReasonTagKeyReserved:
		return fmt.Sprintf("Tag key %s uses the reserved prefix aws:.", e.Value)
	case shardlog.ReasonShardNotFound:
		return fmt.Sprintf("Shard %s in stream %s under account %s does not exist", e.Shard, e.Stream, acct)
	case shardlog.ReasonShardFilterNoShardID:
		return "ShardId must be specified when the ShardFilter type is AFTER_SHARD_ID."
	case shardlog.ReasonShardFilterNoTimestamp:
		return fmt.Sprintf("Timestamp must be specified when the ShardFilter type is %s.", e.Value)
	case shardlog.ReasonShardCountOfOnDemand:
		return fmt.Sprintf("UpdateShardCount is not supported for stream %s under account %s in ON_DEMAND mode.", e.Stream, acct)
	case shardlog.ReasonTargetOverDouble:
		return fmt.Sprintf("UpdateShardCount failed for stream %s under account %s. Target shard count (%d) cannot exceed twice the current open shard count (%d).", e.Stream, acct, e.Requested, e.Current)
	case shardlog.ReasonTargetUnderHalf:
		return fmt.Sprintf("UpdateShardCount failed for stream %s under account %s. Target shard count (%d) cannot be less than half the current open shard count (%d).", e.Stream, acct, e.Requested, e.Current)
	case shardlog.ReasonTargetIsCurrent:
		return fmt.Sprintf("Stream %s under account %s already has %d open shards.", e.Stream, acct, e.Current)
	case shardlog.ReasonShardNotOpen:
		return fmt.Sprintf("Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting.", e.Shard, e.Stream, acct)
	case shardlog.ReasonSplitKeyOutOfRange:
		return fmt.Sprintf("NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s.",
			e.Value, e.Shard, e.Stream, acct, e.Range.Start, e.Range.End)
	case shardlog.ReasonShardsNotAdjacent:
		return fmt.Sprintf("Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging", e.Shard, e.OtherShard, e.Stream, acct)
	case shardlog.ReasonRecordTooLarge:
		return fmt.Sprintf("Record size (partition key plus data) of %d bytes exceeds the limit of %d bytes.", e.Requested, e.Limit)
	case shardlog.ReasonExplicitHashKeyInvalid:
		return "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was " + e.Value
	case shardlog.ReasonRecordsTooLarge:
		return "Records size exceeds 5 MB limit"
	case shardlog.ReasonWriteThrottled:
		return fmt.Sprintf("Rate exceeded for shard %s in stream %s under account %s.", e.Shard, e.Stream, acct)
	case shardlog.ReasonReadThrottled:
		return fmt.Sprintf("Rate exceeded for Shard - %s/%s/%s", acct, e.Stream, e.Shard)
	case shardlog.ReasonNoShardForHashKey:
		return "no open shard covers hash key " + e.Value
	case shardlog.ReasonWriteFailed:
		return errInternal.msg
	case shardlog.ReasonStartingSequenceMissing:
		return iteratorTypeMix + "Request specified " + e.Value + " and no StartingSequenceNumber."
	case shardlog.ReasonStartingSequenceUnwanted:
		return iteratorTypeMix + "Request specified " + e.Value + " and also a StartingSequenceNumber."
	case shardlog.ReasonOrderingSequenceForeign:
		return fmt.Sprintf("ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under account %s is invalid.", e.Value, e.Stream, acct)
	case shardlog.ReasonShardIDUnreadable:
		return fmt.Sprintf("Could not find shard %s in stream %s under account %s.", e.Value, e.Stream, acct)
	case shardlog.ReasonTagCharacters:
		return "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @ :."
	case shardlog.ReasonTagPercent:
		return fmt.Sprintf("Failed to add tags to stream %s under account %s because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'.", e.Stream, acct)
	case shardlog.ReasonStartingSequenceInvalid:
		return fmt.Sprintf("StartingSequenceNumber %s used in %s on shard %s in stream %s under account %s is invalid.", e.Value, op, e.Shard, e.Stream, acct)
	case shardlog.ReasonStartingSequenceElsewhere:
		return fmt.Sprintf("Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s", e.OtherShard, e.Shard)
	case shardlog.ReasonTimestampMissing:
		return "Timestamp must be specified for ShardIteratorType AT_TIMESTAMP."
	case shardlog.ReasonTimestampInFuture:
		return fmt.Sprintf("The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: %d, currentTimestampInMillis: %d", e.Time.UnixMilli(), e.Now.UnixMilli())
	case shardlog.ReasonIteratorExpired:
		return fmt.Sprintf("Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			e.Time.UTC().Format(javaDate), e.Now.UTC().Format(javaDate), e.Limit)
	case shardlog.ReasonConsumerExists:
		return fmt.Sprintf("Consumer %s under stream %s already exists for account %s.", e.Consumer, e.Stream, acct)
	case shardlog.ReasonConsumerLimit:
		return fmt.Sprintf("Consumer limit of %d has been reached for stream %s under account %s.", e.Limit, e.Stream, acct)
	case shardlog.ReasonConsumerARNInvalid:
		return fmt.Sprintf("Invalid ConsumerARN %s.", e.Consumer)
	case shardlog.ReasonConsumerNotFound:
		return fmt.Sprintf("Consumer %s under account %s not found.", e.Consumer, acct)
	case shardlog.ReasonConsumerNameNotFound:
		return fmt.Sprintf("Consumer %s under stream %s under account %s not found.", e.Consumer, e.Stream, acct)
	case shardlog.ReasonNoConsumerRef:
		return "Either ConsumerARN or both StreamARN and ConsumerName must be provided."
	case shardlog.ReasonConsumerNotActive:
		return fmt.Sprintf("Consumer %s under account %s is not ACTIVE, instead in state %s.", e.Consumer, acct, e.Value)
	case shardlog.ReasonSubscribedTooSoon:
		return fmt.Sprintf("Another active subscription exists for consumer %s on shard %s, or a subscription was made less than 5 seconds ago.", e.Consumer, e.Shard)
	case shardlog.ReasonSubscriptionTakenOver:
		return fmt.Sprintf("Subscription for consumer %s on shard %s was taken over by a newer SubscribeToShard call.", e.Consumer, e.Shard)
	}
	if e.Code == shardlog.CodeValidation {
		var vs violations
		violationsOf(e, &vs)
		if len(vs.Msgs) > 0 {
			return validationMessage(vs.Msgs)
		}
	}
	// A refusal this server has no text for (a newer log): its Go message
	// is better than nothing.
	return e.Error()
}

// violationsOf turns the log's own validation refusals (of values that reach it
// past the wire checks, or that the log checks more tightly) into the
// member violations Kinesis reports for them.
func violationsOf(e *shardlog.Error, vs *violations) {
	prefix := ""
	if e.Index > 0 {
		prefix = "records." + strconv.Itoa(e.Index) + ".member."
	}
	val := e.Value
	n := e.Requested
	switch e.Reason {
	case shardlog.ReasonStreamNameInvalid:
		vs.check("streamName", str(&val), streamNameRule)
	case shardlog.ReasonConsumerNameInvalid:
		vs.check("consumerName", str(&val), consumerRule)
	case shardlog.ReasonShardCountInvalid:
		vs.check("shardCount", num(&n), positiveInt)
	case shardlog.ReasonStreamModeInvalid:
		vs.check("streamModeDetails.streamMode", str(&val), streamModeRule)
	case shardlog.ReasonScalingTypeInvalid:
		vs.check("scalingType", str(&val), scalingRule)
	case shardlog.ReasonTargetShardCountInvalid:
		r := rangeRule(1, e.Limit)
		r.RangeBetween = true
		vs.check("targetShardCount", num(&n), r)
	case shardlog.ReasonShardFilterTypeInvalid:
		vs.check("shardFilter.type", str(&val), shardFilterRule)
	case shardlog.ReasonPartitionKeyLength:
		vs.check(prefix+"partitionKey", str(&val), partitionKey)
	case shardlog.ReasonDataTooLong:
		vs.check(prefix+"data", value{Present: true, Kind: awsjson.KindBlob, N: n}, recordData)
	case shardlog.ReasonOrderingSequenceInvalid:
		vs.check("sequenceNumberForOrdering", str(&val), sequenceRule)
	case shardlog.ReasonNoRecords:
		vs.check("records", list([]struct{}{}), recordsRule)
	case shardlog.ReasonTooManyRecords:
		vs.check("records", value{Present: true, Kind: awsjson.KindList, N: n}, recordsRule)
	case shardlog.ReasonIteratorTypeMissing:
		vs.check("shardIteratorType", str(nil), iteratorTypes.Need())
	case shardlog.ReasonIteratorTypeInvalid:
		// The log lists the types in the order of its own message.
		vs.check("shardIteratorType", str(&val), enumRule(string(shardlog.AfterSequenceNumber), string(shardlog.AtSequenceNumber),
			string(shardlog.AtTimestamp), string(shardlog.TrimHorizon), string(shardlog.Latest)))
	case shardlog.ReasonGetRecordsLimit:
		vs.check("limit", num(&n), rangeRule(1, e.Limit))
	}
}
