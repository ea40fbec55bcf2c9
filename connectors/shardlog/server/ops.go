package server

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

type handler func(s *Server, r *request) (any, error)

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"CreateStream":                  (*Server).createStream,
		"DeleteStream":                  (*Server).deleteStream,
		"DescribeStream":                (*Server).describeStream,
		"DescribeStreamSummary":         (*Server).describeStreamSummary,
		"ListStreams":                   (*Server).listStreams,
		"ListShards":                    (*Server).listShards,
		"PutRecord":                     (*Server).putRecord,
		"PutRecords":                    (*Server).putRecords,
		"GetShardIterator":              (*Server).getShardIterator,
		"GetRecords":                    (*Server).getRecords,
		"SplitShard":                    (*Server).splitShard,
		"MergeShards":                   (*Server).mergeShards,
		"UpdateShardCount":              (*Server).updateShardCount,
		"IncreaseStreamRetentionPeriod": (*Server).increaseRetention,
		"DecreaseStreamRetentionPeriod": (*Server).decreaseRetention,
		"AddTagsToStream":               (*Server).addTags,
		"RemoveTagsFromStream":          (*Server).removeTags,
		"ListTagsForStream":             (*Server).listTags,
		"TagResource":                   (*Server).tagResource,
		"UntagResource":                 (*Server).untagResource,
		"ListTagsForResource":           (*Server).listTagsForResource,
		"DescribeLimits":                (*Server).describeLimits,
		"RegisterStreamConsumer":        (*Server).registerConsumer,
		"DescribeStreamConsumer":        (*Server).describeConsumer,
		"ListStreamConsumers":           (*Server).listConsumers,
		"DeregisterStreamConsumer":      (*Server).deregisterConsumer,
		"UpdateStreamMode":              (*Server).updateStreamMode,
		"StartStreamEncryption":         (*Server).startEncryption,
		"StopStreamEncryption":          (*Server).stopEncryption,
		"EnableEnhancedMonitoring":      (*Server).enableMonitoring,
		"DisableEnhancedMonitoring":     (*Server).disableMonitoring,
		"SubscribeToShard":              nil, // streamed: see subscribeToShard
	}
	handlers["SubscribeToShard"] = func(*Server, *request) (any, error) { return nil, nil }
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func refOf(name, arn *string) shardlog.StreamRef {
	return shardlog.StreamRef{Name: str(name), ARN: str(arn)}
}

type empty struct{}

// --- shapes ---

type streamModeDetails struct {
	StreamMode *string `json:"StreamMode"`
}

type hashKeyRange struct {
	StartingHashKey string `json:"StartingHashKey"`
	EndingHashKey   string `json:"EndingHashKey"`
}

type seqRange struct {
	StartingSequenceNumber string `json:"StartingSequenceNumber"`
	EndingSequenceNumber   string `json:"EndingSequenceNumber,omitempty"`
}

type shardOut struct {
	ShardId               string       `json:"ShardId"`
	ParentShardId         string       `json:"ParentShardId,omitempty"`
	AdjacentParentShardId string       `json:"AdjacentParentShardId,omitempty"`
	HashKeyRange          hashKeyRange `json:"HashKeyRange"`
	SequenceNumberRange   seqRange     `json:"SequenceNumberRange"`
}

func shardShape(sh shardlog.ShardInfo) shardOut {
	o := shardOut{
		ShardId: sh.ShardID, ParentShardId: sh.ParentShardID, AdjacentParentShardId: sh.AdjacentParentShardID,
		HashKeyRange:        hashKeyRange{sh.HashKeyRange.Start.String(), sh.HashKeyRange.End.String()},
		SequenceNumberRange: seqRange{StartingSequenceNumber: sh.StartingSequenceNumber.String()},
	}
	if sh.EndingSequenceNumber != nil {
		o.SequenceNumberRange.EndingSequenceNumber = sh.EndingSequenceNumber.String()
	}
	return o
}

type enhancedMetrics struct {
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

type modeOut struct {
	StreamMode string `json:"StreamMode"`
}

// --- streams ---

type createStreamIn struct {
	StreamName          *string            `json:"StreamName"`
	ShardCount          *int64             `json:"ShardCount"`
	StreamModeDetails   *streamModeDetails `json:"StreamModeDetails"`
	Tags                map[string]string  `json:"Tags"`
	WarmThroughputMiBps *int64             `json:"WarmThroughputMiBps"`
	MaxRecordSizeInKiB  *int64             `json:"MaxRecordSizeInKiB"`
}

func (s *Server) createStream(r *request) (any, error) {
	var in createStreamIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	if v.required(in.StreamName != nil, "streamName") {
		v.length(in.StreamName, "streamName", 1, 128)
		v.pattern(in.StreamName, "streamName", streamNameRE, "[a-zA-Z0-9_.-]+")
	}
	v.intRange(in.ShardCount, "shardCount", 1, 1<<31-1)
	mode := shardlog.ModeProvisioned
	if in.StreamModeDetails != nil {
		if v.required(in.StreamModeDetails.StreamMode != nil, "streamModeDetails.streamMode") {
			v.enum(in.StreamModeDetails.StreamMode, "streamModeDetails.streamMode", "PROVISIONED", "ON_DEMAND")
			mode = shardlog.StreamMode(*in.StreamModeDetails.StreamMode)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	n := 0
	if in.ShardCount != nil {
		n = int(*in.ShardCount)
	} else if mode == shardlog.ModeProvisioned {
		return nil, &shardlog.Error{Code: shardlog.CodeInvalidArgument, Message: "ShardCount is required for streams in PROVISIONED mode."}
	}
	return empty{}, s.log.CreateStream(shardlog.CreateStreamInput{Name: *in.StreamName, ShardCount: n, Mode: mode, Tags: in.Tags})
}

type streamRefIn struct {
	StreamName *string `json:"StreamName"`
	StreamARN  *string `json:"StreamARN"`
}

func (in *streamRefIn) validate(v *validator) { v.stream(in.StreamName, in.StreamARN) }

type deleteStreamIn struct {
	streamRefIn
	EnforceConsumerDeletion *bool `json:"EnforceConsumerDeletion"`
}

func (s *Server) deleteStream(r *request) (any, error) {
	var in deleteStreamIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, s.log.DeleteStream(refOf(in.StreamName, in.StreamARN), in.EnforceConsumerDeletion != nil && *in.EnforceConsumerDeletion)
}

type describeStreamIn struct {
	streamRefIn
	Limit                 *int64  `json:"Limit"`
	ExclusiveStartShardId *string `json:"ExclusiveStartShardId"`
}

type streamDescriptionOut struct {
	StreamName              string            `json:"StreamName"`
	StreamARN               string            `json:"StreamARN"`
	StreamStatus            string            `json:"StreamStatus"`
	StreamModeDetails       modeOut           `json:"StreamModeDetails"`
	Shards                  []shardOut        `json:"Shards"`
	HasMoreShards           bool              `json:"HasMoreShards"`
	RetentionPeriodHours    int               `json:"RetentionPeriodHours"`
	StreamCreationTimestamp epochTime         `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []enhancedMetrics `json:"EnhancedMonitoring"`
	EncryptionType          string            `json:"EncryptionType"`
	KeyId                   string            `json:"KeyId,omitempty"`
}

type describeStreamOut struct {
	StreamDescription streamDescriptionOut `json:"StreamDescription"`
}

func (s *Server) describeStream(r *request) (any, error) {
	var in describeStreamIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	v.intRange(in.Limit, "limit", 1, 10000)
	v.length(in.ExclusiveStartShardId, "exclusiveStartShardId", 1, 128)
	v.pattern(in.ExclusiveStartShardId, "exclusiveStartShardId", shardIDRE, shardIDPattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	d, err := s.log.DescribeStream(refOf(in.StreamName, in.StreamARN))
	if err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	out := streamDescriptionOut{
		StreamName: d.Name, StreamARN: d.ARN, StreamStatus: string(d.Status), StreamModeDetails: modeOut{string(d.Mode)},
		Shards: []shardOut{}, RetentionPeriodHours: d.RetentionHours, StreamCreationTimestamp: epochTime{d.Created},
		EnhancedMonitoring: []enhancedMetrics{{ShardLevelMetrics: nonNil(d.Monitoring)}}, EncryptionType: d.EncryptionType, KeyId: d.KeyID,
	}
	start := str(in.ExclusiveStartShardId)
	for _, sh := range d.Shards {
		if start != "" && sh.ShardID <= start {
			continue
		}
		if len(out.Shards) == limit {
			out.HasMoreShards = true
			break
		}
		out.Shards = append(out.Shards, shardShape(sh))
	}
	return describeStreamOut{out}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type summaryOut struct {
	StreamName              string            `json:"StreamName"`
	StreamARN               string            `json:"StreamARN"`
	StreamStatus            string            `json:"StreamStatus"`
	StreamModeDetails       modeOut           `json:"StreamModeDetails"`
	RetentionPeriodHours    int               `json:"RetentionPeriodHours"`
	StreamCreationTimestamp epochTime         `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []enhancedMetrics `json:"EnhancedMonitoring"`
	EncryptionType          string            `json:"EncryptionType"`
	KeyId                   string            `json:"KeyId,omitempty"`
	OpenShardCount          int               `json:"OpenShardCount"`
	ConsumerCount           int               `json:"ConsumerCount"`
}

func (s *Server) describeStreamSummary(r *request) (any, error) {
	var in streamRefIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if err := v.err(); err != nil {
		return nil, err
	}
	d, err := s.log.DescribeStream(refOf(in.StreamName, in.StreamARN))
	if err != nil {
		return nil, err
	}
	return struct {
		StreamDescriptionSummary summaryOut `json:"StreamDescriptionSummary"`
	}{summaryOut{
		StreamName: d.Name, StreamARN: d.ARN, StreamStatus: string(d.Status), StreamModeDetails: modeOut{string(d.Mode)},
		RetentionPeriodHours: d.RetentionHours, StreamCreationTimestamp: epochTime{d.Created},
		EnhancedMonitoring: []enhancedMetrics{{ShardLevelMetrics: nonNil(d.Monitoring)}}, EncryptionType: d.EncryptionType, KeyId: d.KeyID,
		OpenShardCount: d.OpenShardCount, ConsumerCount: d.ConsumerCount,
	}}, nil
}

// --- paging tokens ---

// pageToken is the content of a NextToken: where the listing continues,
// what it lists and when the token was issued (tokens expire after 300 s,
// as Kinesis's do).
type pageToken struct {
	Stream  string               `json:"s,omitempty"`
	After   string               `json:"a"`
	Issued  int64                `json:"t"`
	Filter  shardlog.ShardFilter `json:"f"`
	Created int64                `json:"c,omitempty"`
}

func encodeToken(t pageToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) decodeToken(tok string) (pageToken, error) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Issued == 0 {
		return t, &shardlog.Error{Code: shardlog.CodeInvalidArgument, Message: "Invalid NextToken."}
	}
	now := s.log.Now()
	if now.UnixMilli()-t.Issued > 300_000 {
		return t, &shardlog.Error{Code: shardlog.CodeExpiredNextToken, Message: "The timestamp of the NextToken has expired. NextToken expires after 300 seconds."}
	}
	return t, nil
}

type listStreamsIn struct {
	Limit                    *int64  `json:"Limit"`
	ExclusiveStartStreamName *string `json:"ExclusiveStartStreamName"`
	NextToken                *string `json:"NextToken"`
}

type streamSummaryOut struct {
	StreamName              string    `json:"StreamName"`
	StreamARN               string    `json:"StreamARN"`
	StreamStatus            string    `json:"StreamStatus"`
	StreamModeDetails       modeOut   `json:"StreamModeDetails"`
	StreamCreationTimestamp epochTime `json:"StreamCreationTimestamp"`
}

type listStreamsOut struct {
	StreamNames     []string           `json:"StreamNames"`
	HasMoreStreams  bool               `json:"HasMoreStreams"`
	NextToken       string             `json:"NextToken,omitempty"`
	StreamSummaries []streamSummaryOut `json:"StreamSummaries"`
}

func (s *Server) listStreams(r *request) (any, error) {
	var in listStreamsIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	v.intRange(in.Limit, "limit", 1, 10000)
	v.length(in.ExclusiveStartStreamName, "exclusiveStartStreamName", 1, 128)
	v.pattern(in.ExclusiveStartStreamName, "exclusiveStartStreamName", streamNameRE, "[a-zA-Z0-9_.-]+")
	v.length(in.NextToken, "nextToken", 1, 1048576)
	if err := v.err(); err != nil {
		return nil, err
	}
	after := str(in.ExclusiveStartStreamName)
	if in.NextToken != nil {
		t, err := s.decodeToken(*in.NextToken)
		if err != nil {
			return nil, err
		}
		after = t.After
	}
	limit := 100
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	out := listStreamsOut{StreamNames: []string{}, StreamSummaries: []streamSummaryOut{}}
	for _, ss := range s.log.ListStreams() {
		if after != "" && ss.Name <= after {
			continue
		}
		if len(out.StreamNames) == limit {
			out.HasMoreStreams = true
			out.NextToken = encodeToken(pageToken{After: out.StreamNames[len(out.StreamNames)-1], Issued: s.log.Now().UnixMilli()})
			break
		}
		out.StreamNames = append(out.StreamNames, ss.Name)
		out.StreamSummaries = append(out.StreamSummaries, streamSummaryOut{ss.Name, ss.ARN, string(ss.Status), modeOut{string(ss.Mode)}, epochTime{ss.Created}})
	}
	return out, nil
}

type shardFilterIn struct {
	Type      *string    `json:"Type"`
	ShardId   *string    `json:"ShardId"`
	Timestamp *epochTime `json:"Timestamp"`
}

type listShardsIn struct {
	streamRefIn
	NextToken               *string        `json:"NextToken"`
	ExclusiveStartShardId   *string        `json:"ExclusiveStartShardId"`
	MaxResults              *int64         `json:"MaxResults"`
	StreamCreationTimestamp *epochTime     `json:"StreamCreationTimestamp"`
	ShardFilter             *shardFilterIn `json:"ShardFilter"`
}

type listShardsOut struct {
	Shards    []shardOut `json:"Shards"`
	NextToken string     `json:"NextToken,omitempty"`
}

func (s *Server) listShards(r *request) (any, error) {
	var in listShardsIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	v.intRange(in.MaxResults, "maxResults", 1, 10000)
	v.length(in.ExclusiveStartShardId, "exclusiveStartShardId", 1, 128)
	v.pattern(in.ExclusiveStartShardId, "exclusiveStartShardId", shardIDRE, shardIDPattern)
	v.length(in.NextToken, "nextToken", 1, 1048576)
	if in.ShardFilter != nil && v.required(in.ShardFilter.Type != nil, "shardFilter.type") {
		v.enum(in.ShardFilter.Type, "shardFilter.type", "AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP")
		v.length(in.ShardFilter.ShardId, "shardFilter.shardId", 1, 128)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	var (
		ref    = refOf(in.StreamName, in.StreamARN)
		after  = str(in.ExclusiveStartShardId)
		filter shardlog.ShardFilter
	)
	if in.ShardFilter != nil {
		filter.Type = shardlog.ShardFilterType(*in.ShardFilter.Type)
		filter.ShardID = str(in.ShardFilter.ShardId)
		if in.ShardFilter.Timestamp != nil {
			filter.Timestamp = in.ShardFilter.Timestamp.Time
		}
	}
	if in.NextToken != nil {
		if in.StreamName != nil || in.StreamARN != nil {
			return nil, &shardlog.Error{Code: shardlog.CodeInvalidArgument, Message: "NextToken and StreamName cannot be provided together."}
		}
		if in.ExclusiveStartShardId != nil || in.ShardFilter != nil || in.StreamCreationTimestamp != nil {
			return nil, &shardlog.Error{Code: shardlog.CodeInvalidArgument, Message: "NextToken cannot be provided together with ExclusiveStartShardId, ShardFilter or StreamCreationTimestamp."}
		}
		t, err := s.decodeToken(*in.NextToken)
		if err != nil {
			return nil, err
		}
		ref, after, filter = shardlog.StreamRef{Name: t.Stream}, t.After, t.Filter
	} else if in.StreamName == nil && in.StreamARN == nil {
		return nil, &shardlog.Error{Code: shardlog.CodeInvalidArgument, Message: "Either NextToken or StreamName must be provided."}
	}
	shards, err := s.log.ListShards(ref, after, filter)
	if err != nil {
		return nil, err
	}
	max := 1000
	if in.MaxResults != nil {
		max = int(*in.MaxResults)
	}
	out := listShardsOut{Shards: []shardOut{}}
	for i, sh := range shards {
		if i == max {
			name := ref.Name
			if name == "" {
				d, err := s.log.DescribeStream(ref)
				if err != nil {
					return nil, err
				}
				name = d.Name
			}
			out.NextToken = encodeToken(pageToken{Stream: name, After: out.Shards[i-1].ShardId, Issued: s.log.Now().UnixMilli(), Filter: filter})
			break
		}
		out.Shards = append(out.Shards, shardShape(sh))
	}
	return out, nil
}

// --- records ---

type putRecordIn struct {
	streamRefIn
	Data                      []byte  `json:"Data"`
	PartitionKey              *string `json:"PartitionKey"`
	ExplicitHashKey           *string `json:"ExplicitHashKey"`
	SequenceNumberForOrdering *string `json:"SequenceNumberForOrdering"`
}

type putRecordOut struct {
	ShardId        string `json:"ShardId"`
	SequenceNumber string `json:"SequenceNumber"`
	EncryptionType string `json:"EncryptionType,omitempty"`
}

func (s *Server) putRecord(r *request) (any, error) {
	var in putRecordIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	v.required(in.Data != nil, "data")
	if len(in.Data) > shardlog.MaxRecordBytes {
		v.add("'java.nio.HeapByteBuffer[pos=0 lim="+strconv.Itoa(len(in.Data))+" cap="+strconv.Itoa(len(in.Data))+"]'", "data", "Member must have length less than or equal to 1048576")
	}
	if v.required(in.PartitionKey != nil, "partitionKey") {
		v.length(in.PartitionKey, "partitionKey", 1, 256)
	}
	v.pattern(in.ExplicitHashKey, "explicitHashKey", hashKeyRE, hashKeyPattern)
	v.pattern(in.SequenceNumberForOrdering, "sequenceNumberForOrdering", seqRE, seqPattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	res, err := s.log.PutRecord(r.ctx, refOf(in.StreamName, in.StreamARN), shardlog.PutEntry{
		PartitionKey: *in.PartitionKey, ExplicitHashKey: str(in.ExplicitHashKey), Data: in.Data,
	}, str(in.SequenceNumberForOrdering))
	if err != nil {
		return nil, err
	}
	return putRecordOut{ShardId: res.ShardID, SequenceNumber: res.SequenceNumber.String(), EncryptionType: "NONE"}, nil
}

type putRecordsEntryIn struct {
	Data            []byte  `json:"Data"`
	PartitionKey    *string `json:"PartitionKey"`
	ExplicitHashKey *string `json:"ExplicitHashKey"`
}

type putRecordsIn struct {
	streamRefIn
	Records []putRecordsEntryIn `json:"Records"`
}

// putRecordsOut encodes itself (fastJSON); the CBOR path uses the tags.
type putRecordsOut struct {
	FailedRecordCount int                  `json:"FailedRecordCount"`
	Records           []putRecordsEntryOut `json:"Records"`
	EncryptionType    string               `json:"EncryptionType,omitempty"`
	results           []shardlog.PutResult
}

type putRecordsEntryOut struct {
	SequenceNumber string `json:"SequenceNumber,omitempty"`
	ShardId        string `json:"ShardId,omitempty"`
	ErrorCode      string `json:"ErrorCode,omitempty"`
	ErrorMessage   string `json:"ErrorMessage,omitempty"`
}

func (o *putRecordsOut) appendJSON(b []byte) []byte {
	b = append(b, `{"FailedRecordCount":`...)
	b = strconv.AppendInt(b, int64(o.FailedRecordCount), 10)
	b = append(b, `,"Records":[`...)
	for i, r := range o.results {
		if i > 0 {
			b = append(b, ',')
		}
		if r.ErrorCode != "" {
			b = append(b, `{"ErrorCode":`...)
			b = appendJSONString(b, string(r.ErrorCode))
			b = append(b, `,"ErrorMessage":`...)
			b = appendJSONString(b, r.ErrorMessage)
			b = append(b, '}')
			continue
		}
		b = append(b, `{"SequenceNumber":"`...)
		b = r.SequenceNumber.AppendText(b)
		b = append(b, `","ShardId":"`...)
		b = append(b, r.ShardID...)
		b = append(b, `"}`...)
	}
	return append(b, `],"EncryptionType":"NONE"}`...)
}

func (s *Server) putRecords(r *request) (any, error) {
	in, ok := putRecordsIn{}, false
	if !r.cbor {
		in, ok = fastPutRecords(r.body)
	}
	if !ok {
		in = putRecordsIn{}
		if err := r.decode(&in); err != nil {
			return nil, err
		}
	}
	var v validator
	in.validate(&v)
	if v.required(in.Records != nil, "records") {
		if n := len(in.Records); n < 1 {
			v.add("'[]'", "records", "Member must have length greater than or equal to 1")
		} else if n > shardlog.MaxPutRecords {
			v.add("'[...]'", "records", "Member must have length less than or equal to 500")
		}
	}
	for i := range in.Records {
		e := &in.Records[i]
		if e.Data != nil && len(e.Data) <= shardlog.MaxRecordBytes && e.PartitionKey != nil &&
			len(*e.PartitionKey) >= 1 && len(*e.PartitionKey) <= 256 && e.ExplicitHashKey == nil {
			continue // the common case, checked without building messages
		}
		p := "records." + strconv.Itoa(i+1) + ".member."
		v.required(e.Data != nil, p+"data")
		if len(e.Data) > shardlog.MaxRecordBytes {
			v.add("'java.nio.HeapByteBuffer[pos=0 lim="+strconv.Itoa(len(e.Data))+" cap="+strconv.Itoa(len(e.Data))+"]'", p+"data", "Member must have length less than or equal to 1048576")
		}
		if v.required(e.PartitionKey != nil, p+"partitionKey") {
			v.length(e.PartitionKey, p+"partitionKey", 1, 256)
		}
		v.pattern(e.ExplicitHashKey, p+"explicitHashKey", hashKeyRE, hashKeyPattern)
		if len(v.msgs) > 10 {
			break
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	entries := make([]shardlog.PutEntry, len(in.Records))
	for i, e := range in.Records {
		entries[i] = shardlog.PutEntry{PartitionKey: *e.PartitionKey, ExplicitHashKey: str(e.ExplicitHashKey), Data: e.Data}
	}
	res, err := s.log.PutRecords(r.ctx, refOf(in.StreamName, in.StreamARN), entries, make([]shardlog.PutResult, 0, len(entries)))
	if err != nil {
		return nil, err
	}
	out := &putRecordsOut{results: res, EncryptionType: "NONE"}
	for _, x := range res {
		if x.ErrorCode != "" {
			out.FailedRecordCount++
		}
	}
	if r.cbor {
		for _, x := range res {
			if x.ErrorCode != "" {
				out.Records = append(out.Records, putRecordsEntryOut{ErrorCode: string(x.ErrorCode), ErrorMessage: x.ErrorMessage})
			} else {
				out.Records = append(out.Records, putRecordsEntryOut{SequenceNumber: x.SequenceNumber.String(), ShardId: x.ShardID})
			}
		}
	}
	return out, nil
}

type getShardIteratorIn struct {
	streamRefIn
	ShardId                *string    `json:"ShardId"`
	ShardIteratorType      *string    `json:"ShardIteratorType"`
	StartingSequenceNumber *string    `json:"StartingSequenceNumber"`
	Timestamp              *epochTime `json:"Timestamp"`
}

var iteratorTypes = []string{"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"}

func (s *Server) getShardIterator(r *request) (any, error) {
	var in getShardIteratorIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if v.required(in.ShardId != nil, "shardId") {
		v.length(in.ShardId, "shardId", 1, 128)
		v.pattern(in.ShardId, "shardId", shardIDRE, shardIDPattern)
	}
	if v.required(in.ShardIteratorType != nil, "shardIteratorType") {
		v.enum(in.ShardIteratorType, "shardIteratorType", iteratorTypes...)
	}
	v.pattern(in.StartingSequenceNumber, "startingSequenceNumber", seqRE, seqPattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	p := shardlog.StartPosition{Type: shardlog.IteratorType(*in.ShardIteratorType), SequenceNumber: str(in.StartingSequenceNumber)}
	if in.Timestamp != nil {
		p.Timestamp = in.Timestamp.Time
	}
	it, err := s.log.GetShardIterator(refOf(in.StreamName, in.StreamARN), *in.ShardId, p)
	if err != nil {
		return nil, err
	}
	return struct {
		ShardIterator string `json:"ShardIterator"`
	}{it}, nil
}

type getRecordsIn struct {
	ShardIterator *string `json:"ShardIterator"`
	Limit         *int64  `json:"Limit"`
	StreamARN     *string `json:"StreamARN"`
}

type recordOut struct {
	SequenceNumber              string    `json:"SequenceNumber"`
	ApproximateArrivalTimestamp epochTime `json:"ApproximateArrivalTimestamp"`
	Data                        []byte    `json:"Data"`
	PartitionKey                string    `json:"PartitionKey"`
}

type childShardOut struct {
	ShardId      string       `json:"ShardId"`
	ParentShards []string     `json:"ParentShards"`
	HashKeyRange hashKeyRange `json:"HashKeyRange"`
}

func childShapes(cs []shardlog.ChildShard) []childShardOut {
	out := make([]childShardOut, 0, len(cs))
	for _, c := range cs {
		out = append(out, childShardOut{c.ShardID, c.ParentShards, hashKeyRange{c.HashKeyRange.Start.String(), c.HashKeyRange.End.String()}})
	}
	return out
}

// getRecordsOut encodes itself to JSON straight from the records read
// (no per-record allocation); the CBOR path builds the tagged shapes.
type getRecordsOut struct {
	Records            []recordOut     `json:"Records"`
	NextShardIterator  *string         `json:"NextShardIterator,omitempty"`
	MillisBehindLatest int64           `json:"MillisBehindLatest"`
	ChildShards        []childShardOut `json:"ChildShards,omitempty"`
	res                *shardlog.GetRecordsOutput
	buf                *shardlog.RecordBuffer
}

func appendRecordJSON(b []byte, r *shardlog.Record) []byte {
	b = append(b, `{"SequenceNumber":"`...)
	b = r.SequenceNumber.AppendText(b)
	b = append(b, `","ApproximateArrivalTimestamp":`...)
	b = appendEpochSeconds(b, r.ArrivalTime)
	b = append(b, `,"Data":"`...)
	b = base64.StdEncoding.AppendEncode(b, r.Data)
	b = append(b, `","PartitionKey":`...)
	b = appendJSONString(b, string(r.PartitionKey))
	return append(b, '}')
}

func (o *getRecordsOut) appendJSON(b []byte) []byte {
	b = append(b, `{"Records":[`...)
	for i := range o.res.Records {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecordJSON(b, &o.res.Records[i])
	}
	b = append(b, ']')
	if o.res.NextShardIterator != "" {
		b = append(b, `,"NextShardIterator":"`...)
		b = append(b, o.res.NextShardIterator...)
		b = append(b, '"')
	}
	b = append(b, `,"MillisBehindLatest":`...)
	b = strconv.AppendInt(b, o.res.MillisBehindLatest, 10)
	if o.res.ShardEnded {
		cb, _ := json.Marshal(childShapes(o.res.ChildShards))
		b = append(b, `,"ChildShards":`...)
		b = append(b, cb...)
	}
	return append(b, '}')
}

func (o *getRecordsOut) release() {
	o.res.Records = nil
	putRecordBuffer(o.buf)
}

var recordBufs = make(chan *shardlog.RecordBuffer, 64)

func getRecordBuffer() *shardlog.RecordBuffer {
	select {
	case b := <-recordBufs:
		return b
	default:
		return new(shardlog.RecordBuffer)
	}
}

func putRecordBuffer(b *shardlog.RecordBuffer) {
	select {
	case recordBufs <- b:
	default:
	}
}

func (s *Server) getRecords(r *request) (any, error) {
	var in getRecordsIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	if v.required(in.ShardIterator != nil, "shardIterator") {
		v.length(in.ShardIterator, "shardIterator", 1, 512)
	}
	v.intRange(in.Limit, "limit", 1, 10000)
	v.length(in.StreamARN, "streamARN", 1, 2048)
	v.pattern(in.StreamARN, "streamARN", streamARNRE, streamARNPattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	limit := 0
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	buf := getRecordBuffer()
	res, err := s.log.GetRecords(r.ctx, *in.ShardIterator, limit, buf)
	if err != nil {
		putRecordBuffer(buf)
		return nil, err
	}
	out := &getRecordsOut{res: &res, buf: buf}
	if r.cbor {
		out.Records = make([]recordOut, 0, len(res.Records))
		for _, rec := range res.Records {
			out.Records = append(out.Records, recordOut{rec.SequenceNumber.String(), epochTime{rec.ArrivalTime}, append([]byte(nil), rec.Data...), string(rec.PartitionKey)})
		}
		if res.NextShardIterator != "" {
			out.NextShardIterator = &res.NextShardIterator
		}
		out.MillisBehindLatest = res.MillisBehindLatest
		if res.ShardEnded {
			out.ChildShards = childShapes(res.ChildShards)
		}
	}
	return out, nil
}

// --- resharding ---

type splitShardIn struct {
	streamRefIn
	ShardToSplit       *string `json:"ShardToSplit"`
	NewStartingHashKey *string `json:"NewStartingHashKey"`
}

func (s *Server) splitShard(r *request) (any, error) {
	var in splitShardIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if v.required(in.ShardToSplit != nil, "shardToSplit") {
		v.length(in.ShardToSplit, "shardToSplit", 1, 128)
		v.pattern(in.ShardToSplit, "shardToSplit", shardIDRE, shardIDPattern)
	}
	if v.required(in.NewStartingHashKey != nil, "newStartingHashKey") {
		v.pattern(in.NewStartingHashKey, "newStartingHashKey", hashKeyRE, hashKeyPattern)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, s.log.SplitShard(refOf(in.StreamName, in.StreamARN), *in.ShardToSplit, *in.NewStartingHashKey)
}

type mergeShardsIn struct {
	streamRefIn
	ShardToMerge         *string `json:"ShardToMerge"`
	AdjacentShardToMerge *string `json:"AdjacentShardToMerge"`
}

func (s *Server) mergeShards(r *request) (any, error) {
	var in mergeShardsIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if v.required(in.ShardToMerge != nil, "shardToMerge") {
		v.length(in.ShardToMerge, "shardToMerge", 1, 128)
		v.pattern(in.ShardToMerge, "shardToMerge", shardIDRE, shardIDPattern)
	}
	if v.required(in.AdjacentShardToMerge != nil, "adjacentShardToMerge") {
		v.length(in.AdjacentShardToMerge, "adjacentShardToMerge", 1, 128)
		v.pattern(in.AdjacentShardToMerge, "adjacentShardToMerge", shardIDRE, shardIDPattern)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, s.log.MergeShards(refOf(in.StreamName, in.StreamARN), *in.ShardToMerge, *in.AdjacentShardToMerge)
}

type updateShardCountIn struct {
	streamRefIn
	TargetShardCount *int64  `json:"TargetShardCount"`
	ScalingType      *string `json:"ScalingType"`
}

func (s *Server) updateShardCount(r *request) (any, error) {
	var in updateShardCountIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if v.required(in.TargetShardCount != nil, "targetShardCount") {
		v.intRange(in.TargetShardCount, "targetShardCount", 1, 100000)
	}
	if v.required(in.ScalingType != nil, "scalingType") {
		v.enum(in.ScalingType, "scalingType", "UNIFORM_SCALING")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	ref := refOf(in.StreamName, in.StreamARN)
	cur, err := s.log.UpdateShardCount(ref, int(*in.TargetShardCount), *in.ScalingType)
	if err != nil {
		return nil, err
	}
	d, err := s.log.DescribeStream(ref)
	if err != nil {
		return nil, err
	}
	return struct {
		StreamName        string `json:"StreamName"`
		StreamARN         string `json:"StreamARN"`
		CurrentShardCount int    `json:"CurrentShardCount"`
		TargetShardCount  int64  `json:"TargetShardCount"`
	}{d.Name, d.ARN, cur, *in.TargetShardCount}, nil
}

// --- retention ---

type retentionIn struct {
	streamRefIn
	RetentionPeriodHours *int64 `json:"RetentionPeriodHours"`
}

func (s *Server) retention(r *request, increase bool) (any, error) {
	var in retentionIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if v.required(in.RetentionPeriodHours != nil, "retentionPeriodHours") {
		v.intRange(in.RetentionPeriodHours, "retentionPeriodHours", 1, 1<<31-1)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	ref := refOf(in.StreamName, in.StreamARN)
	if increase {
		return empty{}, s.log.IncreaseRetention(ref, int(*in.RetentionPeriodHours))
	}
	return empty{}, s.log.DecreaseRetention(ref, int(*in.RetentionPeriodHours))
}

func (s *Server) increaseRetention(r *request) (any, error) { return s.retention(r, true) }
func (s *Server) decreaseRetention(r *request) (any, error) { return s.retention(r, false) }

// --- tags ---

type addTagsIn struct {
	streamRefIn
	Tags map[string]string `json:"Tags"`
}

func (s *Server) addTags(r *request) (any, error) {
	var in addTagsIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if v.required(in.Tags != nil, "tags") {
		if len(in.Tags) < 1 {
			v.add("'{}'", "tags", "Member must have length greater than or equal to 1")
		} else if len(in.Tags) > 50 {
			v.add("'{...}'", "tags", "Member must have length less than or equal to 50")
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, s.log.AddTags(refOf(in.StreamName, in.StreamARN), in.Tags)
}

type removeTagsIn struct {
	streamRefIn
	TagKeys []string `json:"TagKeys"`
}

func (s *Server) removeTags(r *request) (any, error) {
	var in removeTagsIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if v.required(in.TagKeys != nil, "tagKeys") {
		if len(in.TagKeys) < 1 {
			v.add("'[]'", "tagKeys", "Member must have length greater than or equal to 1")
		} else if len(in.TagKeys) > 50 {
			v.add("'[...]'", "tagKeys", "Member must have length less than or equal to 50")
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, s.log.RemoveTags(refOf(in.StreamName, in.StreamARN), in.TagKeys)
}

type listTagsIn struct {
	streamRefIn
	ExclusiveStartTagKey *string `json:"ExclusiveStartTagKey"`
	Limit                *int64  `json:"Limit"`
}

type tagOut struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func (s *Server) listTags(r *request) (any, error) {
	var in listTagsIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	v.intRange(in.Limit, "limit", 1, 50)
	v.length(in.ExclusiveStartTagKey, "exclusiveStartTagKey", 1, 128)
	if err := v.err(); err != nil {
		return nil, err
	}
	tags, err := s.log.ListTags(refOf(in.StreamName, in.StreamARN))
	if err != nil {
		return nil, err
	}
	limit := 50
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	out := struct {
		Tags        []tagOut `json:"Tags"`
		HasMoreTags bool     `json:"HasMoreTags"`
	}{Tags: []tagOut{}}
	for _, t := range tags {
		if in.ExclusiveStartTagKey != nil && t.Key <= *in.ExclusiveStartTagKey {
			continue
		}
		if len(out.Tags) == limit {
			out.HasMoreTags = true
			break
		}
		out.Tags = append(out.Tags, tagOut{t.Key, t.Value})
	}
	return out, nil
}

type resourceIn struct {
	ResourceARN *string           `json:"ResourceARN"`
	Tags        map[string]string `json:"Tags"`
	TagKeys     []string          `json:"TagKeys"`
}

func (s *Server) resource(r *request) (resourceIn, shardlog.StreamRef, error) {
	var in resourceIn
	if err := r.decode(&in); err != nil {
		return in, shardlog.StreamRef{}, err
	}
	var v validator
	if v.required(in.ResourceARN != nil, "resourceARN") {
		v.length(in.ResourceARN, "resourceARN", 1, 2048)
		v.pattern(in.ResourceARN, "resourceARN", streamARNRE, streamARNPattern)
	}
	return in, shardlog.StreamRef{ARN: str(in.ResourceARN)}, v.err()
}

func (s *Server) tagResource(r *request) (any, error) {
	in, ref, err := s.resource(r)
	if err != nil {
		return nil, err
	}
	if in.Tags == nil {
		return nil, (&validator{msgs: []string{"Value null at 'tags' failed to satisfy constraint: Member must not be null"}}).err()
	}
	return empty{}, s.log.AddTags(ref, in.Tags)
}

func (s *Server) untagResource(r *request) (any, error) {
	in, ref, err := s.resource(r)
	if err != nil {
		return nil, err
	}
	if in.TagKeys == nil {
		return nil, (&validator{msgs: []string{"Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"}}).err()
	}
	return empty{}, s.log.RemoveTags(ref, in.TagKeys)
}

func (s *Server) listTagsForResource(r *request) (any, error) {
	_, ref, err := s.resource(r)
	if err != nil {
		return nil, err
	}
	tags, err := s.log.ListTags(ref)
	if err != nil {
		return nil, err
	}
	out := struct {
		Tags []tagOut `json:"Tags"`
	}{Tags: []tagOut{}}
	for _, t := range tags {
		out.Tags = append(out.Tags, tagOut{t.Key, t.Value})
	}
	return out, nil
}

// --- limits, modes, encryption, monitoring ---

func (s *Server) describeLimits(r *request) (any, error) {
	var in empty
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	l := s.log.DescribeLimits()
	return struct {
		ShardLimit               int `json:"ShardLimit"`
		OpenShardCount           int `json:"OpenShardCount"`
		OnDemandStreamCount      int `json:"OnDemandStreamCount"`
		OnDemandStreamCountLimit int `json:"OnDemandStreamCountLimit"`
	}{l.ShardLimit, l.OpenShardCount, l.OnDemandStreamCount, l.OnDemandStreamCountLimit}, nil
}

type updateModeIn struct {
	StreamARN         *string            `json:"StreamARN"`
	StreamModeDetails *streamModeDetails `json:"StreamModeDetails"`
}

func (s *Server) updateStreamMode(r *request) (any, error) {
	var in updateModeIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	if v.required(in.StreamARN != nil, "streamARN") {
		v.stream(nil, in.StreamARN)
	}
	if v.required(in.StreamModeDetails != nil, "streamModeDetails") && v.required(in.StreamModeDetails.StreamMode != nil, "streamModeDetails.streamMode") {
		v.enum(in.StreamModeDetails.StreamMode, "streamModeDetails.streamMode", "PROVISIONED", "ON_DEMAND")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, s.log.UpdateStreamMode(shardlog.StreamRef{ARN: *in.StreamARN}, shardlog.StreamMode(*in.StreamModeDetails.StreamMode))
}

type encryptionIn struct {
	streamRefIn
	EncryptionType *string `json:"EncryptionType"`
	KeyId          *string `json:"KeyId"`
}

func (s *Server) encryption(r *request, start bool) (any, error) {
	var in encryptionIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if v.required(in.EncryptionType != nil, "encryptionType") {
		v.enum(in.EncryptionType, "encryptionType", "NONE", "KMS")
	}
	if v.required(in.KeyId != nil, "keyId") {
		v.length(in.KeyId, "keyId", 1, 2048)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	typ := *in.EncryptionType
	if !start {
		typ = "NONE"
	}
	return empty{}, s.log.SetEncryption(refOf(in.StreamName, in.StreamARN), typ, *in.KeyId)
}

func (s *Server) startEncryption(r *request) (any, error) { return s.encryption(r, true) }
func (s *Server) stopEncryption(r *request) (any, error)  { return s.encryption(r, false) }

type monitoringIn struct {
	streamRefIn
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

var metricNames = []string{"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords", "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds", "ALL"}

func (s *Server) monitoring(r *request, enable bool) (any, error) {
	var in monitoringIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if v.required(in.ShardLevelMetrics != nil, "shardLevelMetrics") {
		if len(in.ShardLevelMetrics) < 1 || len(in.ShardLevelMetrics) > 7 {
			v.add("'[...]'", "shardLevelMetrics", "Member must have length between 1 and 7")
		}
		for i := range in.ShardLevelMetrics {
			v.enum(&in.ShardLevelMetrics[i], "shardLevelMetrics", metricNames...)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	ref := refOf(in.StreamName, in.StreamARN)
	before, after, err := s.log.SetMonitoring(ref, in.ShardLevelMetrics, enable)
	if err != nil {
		return nil, err
	}
	d, err := s.log.DescribeStream(ref)
	if err != nil {
		return nil, err
	}
	return struct {
		StreamName               string   `json:"StreamName"`
		StreamARN                string   `json:"StreamARN"`
		CurrentShardLevelMetrics []string `json:"CurrentShardLevelMetrics"`
		DesiredShardLevelMetrics []string `json:"DesiredShardLevelMetrics"`
	}{d.Name, d.ARN, nonNil(before), nonNil(after)}, nil
}

func (s *Server) enableMonitoring(r *request) (any, error)  { return s.monitoring(r, true) }
func (s *Server) disableMonitoring(r *request) (any, error) { return s.monitoring(r, false) }

// --- consumers ---

type consumerIn struct {
	StreamARN    *string `json:"StreamARN"`
	ConsumerName *string `json:"ConsumerName"`
	ConsumerARN  *string `json:"ConsumerARN"`
}

func (in *consumerIn) validate(v *validator) {
	v.length(in.StreamARN, "streamARN", 1, 2048)
	v.pattern(in.StreamARN, "streamARN", streamARNRE, streamARNPattern)
	v.length(in.ConsumerName, "consumerName", 1, 128)
	v.pattern(in.ConsumerName, "consumerName", streamNameRE, "[a-zA-Z0-9_.-]+")
	v.length(in.ConsumerARN, "consumerARN", 1, 2048)
	v.pattern(in.ConsumerARN, "consumerARN", consumerARNRE, consumerARNPattern)
}

type consumerOut struct {
	ConsumerName              string    `json:"ConsumerName"`
	ConsumerARN               string    `json:"ConsumerARN"`
	ConsumerStatus            string    `json:"ConsumerStatus"`
	ConsumerCreationTimestamp epochTime `json:"ConsumerCreationTimestamp"`
	StreamARN                 string    `json:"StreamARN,omitempty"`
}

func consumerShape(c shardlog.Consumer, withStream bool) consumerOut {
	o := consumerOut{c.Name, c.ARN, c.Status, epochTime{c.Created}, ""}
	if withStream {
		o.StreamARN = c.StreamARN
	}
	return o
}

func (s *Server) registerConsumer(r *request) (any, error) {
	var in consumerIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	v.required(in.StreamARN != nil, "streamARN")
	v.required(in.ConsumerName != nil, "consumerName")
	in.validate(&v)
	if err := v.err(); err != nil {
		return nil, err
	}
	c, err := s.log.RegisterStreamConsumer(*in.StreamARN, *in.ConsumerName)
	if err != nil {
		return nil, err
	}
	return struct {
		Consumer consumerOut `json:"Consumer"`
	}{consumerShape(c, false)}, nil
}

func (s *Server) describeConsumer(r *request) (any, error) {
	var in consumerIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if err := v.err(); err != nil {
		return nil, err
	}
	c, err := s.log.DescribeStreamConsumer(str(in.StreamARN), str(in.ConsumerName), str(in.ConsumerARN))
	if err != nil {
		return nil, err
	}
	return struct {
		ConsumerDescription consumerOut `json:"ConsumerDescription"`
	}{consumerShape(c, true)}, nil
}

func (s *Server) deregisterConsumer(r *request) (any, error) {
	var in consumerIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	in.validate(&v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, s.log.DeregisterStreamConsumer(str(in.StreamARN), str(in.ConsumerName), str(in.ConsumerARN))
}

type listConsumersIn struct {
	StreamARN               *string    `json:"StreamARN"`
	NextToken               *string    `json:"NextToken"`
	MaxResults              *int64     `json:"MaxResults"`
	StreamCreationTimestamp *epochTime `json:"StreamCreationTimestamp"`
}

func (s *Server) listConsumers(r *request) (any, error) {
	var in listConsumersIn
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	var v validator
	if v.required(in.StreamARN != nil, "streamARN") {
		v.stream(nil, in.StreamARN)
	}
	v.intRange(in.MaxResults, "maxResults", 1, 10000)
	v.length(in.NextToken, "nextToken", 1, 1048576)
	if err := v.err(); err != nil {
		return nil, err
	}
	after := ""
	if in.NextToken != nil {
		t, err := s.decodeToken(*in.NextToken)
		if err != nil {
			return nil, err
		}
		after = t.After
	}
	cs, err := s.log.ListStreamConsumers(*in.StreamARN)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].ARN < cs[j].ARN })
	max := 100
	if in.MaxResults != nil {
		max = int(*in.MaxResults)
	}
	out := struct {
		Consumers []consumerOut `json:"Consumers"`
		NextToken string        `json:"NextToken,omitempty"`
	}{Consumers: []consumerOut{}}
	for _, c := range cs {
		if after != "" && c.ARN <= after {
			continue
		}
		if len(out.Consumers) == max {
			out.NextToken = encodeToken(pageToken{After: out.Consumers[max-1].ConsumerARN, Issued: s.log.Now().UnixMilli()})
			break
		}
		out.Consumers = append(out.Consumers, consumerShape(c, false))
	}
	return out, nil
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			const hexd = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
