package trigger

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Record is one record of a batch: a copy of a log record (the log's read
// buffers are reused), with its sequence number in text form.
type Record struct {
	SequenceNumber string
	PartitionKey   []byte
	Data           []byte
	ArrivalTime    time.Time
	// idx is the record's place in its shard's read order (the progress
	// tracker's index).
	idx uint64
}

// eventSource is what every record of an event says of where it came from.
type eventSource struct {
	shardID        string
	region         string
	eventSourceARN string
	identityARN    string
}

// maxPayload bounds an event as Lambda bounds a synchronous invocation's
// payload (6 MB); a batch is cut before it would pass it.
const maxPayload = 6 << 20

// recordOverhead bounds the bytes of one event record besides its
// partition key and base64 data, for sizing batches.
const recordOverhead = 512

func recordSize(r *Record) int {
	return base64.StdEncoding.EncodedLen(len(r.Data)) + 2*len(r.PartitionKey) + recordOverhead
}

// appendEvent writes the Lambda Kinesis event of recs: {"Records": [...]},
// each record with the fields, names and order Lambda sends.
func appendEvent(b []byte, src *eventSource, recs []Record) []byte {
	b = append(b, `{"Records":[`...)
	for i := range recs {
		r := &recs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":`...)
		b = appendJSONString(b, r.PartitionKey)
		b = append(b, `,"sequenceNumber":"`...)
		b = append(b, r.SequenceNumber...)
		b = append(b, `","data":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Data)
		b = append(b, `","approximateArrivalTimestamp":`...)
		b = appendSeconds(b, r.ArrivalTime)
		b = append(b, `},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"`...)
		b = append(b, src.shardID...)
		b = append(b, ':')
		b = append(b, r.SequenceNumber...)
		b = append(b, `","eventName":"aws:kinesis:record","invokeIdentityArn":`...)
		b = appendJSONString(b, []byte(src.identityARN))
		b = append(b, `,"awsRegion":"`...)
		b = append(b, src.region...)
		b = append(b, `","eventSourceARN":`...)
		b = appendJSONString(b, []byte(src.eventSourceARN))
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendSeconds writes t as Unix seconds with its milliseconds as a
// fraction (1545084650.987), as Lambda writes approximateArrivalTimestamp.
func appendSeconds(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	b = strconv.AppendInt(b, ms/1000, 10)
	if f := ms % 1000; f != 0 {
		b = append(b, '.')
		d := []byte{byte('0' + f/100), byte('0' + f/10%10), byte('0' + f%10)}
		for d[len(d)-1] == '0' {
			d = d[:len(d)-1]
		}
		b = append(b, d...)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string, escaping only what JSON
// requires (as Lambda's serializer does); invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// partialResult is what a function's response says with
// ReportBatchItemFailures on: the index of the first record to retry (the
// lowest failed sequence number; len(batch) when the batch succeeded), or
// invalid when the response makes the whole batch a failure.
type partialResult struct {
	retryFrom int
	invalid   string
}

// parsePartial reads a partial batch response as Lambda does: an empty or
// null batchItemFailures, an empty or null response (or one that is not a
// JSON object) is a complete success; an itemIdentifier that is empty,
// null, missing (a bad key name), or not a sequence number of the batch
// makes the batch a complete failure; otherwise the batch is retried from
// the lowest failed sequence number.
func parsePartial(resp []byte, batch []Record) partialResult {
	var body struct {
		BatchItemFailures []map[string]json.RawMessage `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(resp, &body); err != nil || len(body.BatchItemFailures) == 0 {
		return partialResult{retryFrom: len(batch)}
	}
	from := len(batch)
	for _, f := range body.BatchItemFailures {
		raw, ok := f["itemIdentifier"]
		if !ok {
			return partialResult{invalid: "a batchItemFailures entry has no itemIdentifier"}
		}
		var id *string
		if err := json.Unmarshal(raw, &id); err != nil {
			return partialResult{invalid: "an itemIdentifier is not a string: " + string(raw)}
		}
		if id == nil || *id == "" {
			return partialResult{invalid: "an itemIdentifier is empty or null"}
		}
		i := indexOf(batch, *id)
		if i < 0 {
			return partialResult{invalid: "itemIdentifier " + strconv.Quote(*id) + " is not a sequence number of the batch"}
		}
		from = min(from, i)
	}
	return partialResult{retryFrom: from}
}

func indexOf(batch []Record, seq string) int {
	for i := range batch {
		if batch[i].SequenceNumber == seq {
			return i
		}
	}
	return -1
}

// Conditions of an on-failure record.
const (
	ConditionRetriesExhausted = "RetryAttemptsExhausted"
	ConditionRecordAge        = "MaximumRecordAgeExceeded"
)

// FailureRecord is what Lambda sends to an on-failure destination for a
// Kinesis batch it gives up on: metadata of the invocation and the batch's
// shard and sequence range, never the records' data.
type FailureRecord struct {
	RequestContext   RequestContext   `json:"requestContext"`
	ResponseContext  *ResponseContext `json:"responseContext,omitempty"`
	Version          string           `json:"version"`
	Timestamp        string           `json:"timestamp"`
	KinesisBatchInfo KinesisBatchInfo `json:"KinesisBatchInfo"`
}

// RequestContext of a FailureRecord.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext of a FailureRecord: the last invocation's outcome.
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError"`
}

// KinesisBatchInfo of a FailureRecord.
type KinesisBatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamArn                       string `json:"streamArn"`
}

// isoMillis is the time format of a FailureRecord.
const isoMillis = "2006-01-02T15:04:05.000Z"

func batchInfo(src *eventSource, batch []Record) KinesisBatchInfo {
	first, last := &batch[0], &batch[len(batch)-1]
	return KinesisBatchInfo{
		ShardID:                         src.shardID,
		StartSequenceNumber:             first.SequenceNumber,
		EndSequenceNumber:               last.SequenceNumber,
		ApproximateArrivalOfFirstRecord: first.ArrivalTime.UTC().Format(isoMillis),
		ApproximateArrivalOfLastRecord:  last.ArrivalTime.UTC().Format(isoMillis),
		BatchSize:                       len(batch),
		StreamArn:                       src.eventSourceARN,
	}
}
