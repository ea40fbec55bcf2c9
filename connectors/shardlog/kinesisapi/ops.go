package kinesisapi

import (
	"sort"
	"strings"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// operations is the table of the Kinesis operations the server answers:
// each names its input type and that input's constraints (the check
// method), and the function from input to output. serve runs every one
// the same way: decode the body, check it, call, encode the result.
var operations = map[string]operation{
	"CreateStream":                  op((*createStreamIn).check, (*Server).createStream),
	"DeleteStream":                  op((*deleteStreamIn).check, (*Server).deleteStream),
	"DescribeStream":                op((*describeStreamIn).check, (*Server).describeStream),
	"DescribeStreamSummary":         op((*streamRefIn).check, (*Server).describeStreamSummary),
	"ListStreams":                   op((*listStreamsIn).check, (*Server).listStreams),
	"ListShards":                    op((*listShardsIn).check, (*Server).listShards),
	"PutRecord":                     op((*putRecordIn).check, (*Server).putRecord),
	"PutRecords":                    op((*putRecordsIn).check, (*Server).putRecords),
	"GetShardIterator":              op((*getShardIteratorIn).check, (*Server).getShardIterator),
	"GetRecords":                    op((*getRecordsIn).check, (*Server).getRecords),
	"SplitShard":                    op((*splitShardIn).check, (*Server).splitShard),
	"MergeShards":                   op((*mergeShardsIn).check, (*Server).mergeShards),
	"UpdateShardCount":              op((*updateShardCountIn).check, (*Server).updateShardCount),
	"IncreaseStreamRetentionPeriod": op((*retentionIn).check, (*Server).increaseRetention),
	"DecreaseStreamRetentionPeriod": op((*retentionIn).check, (*Server).decreaseRetention),
	"AddTagsToStream":               op((*addTagsIn).check, (*Server).addTags),
	"RemoveTagsFromStream":          op((*removeTagsIn).check, (*Server).removeTags),
	"ListTagsForStream":             op((*listTagsIn).check, (*Server).listTags),
	"TagResource":                   op((*tagResourceIn).check, (*Server).tagResource),
	"UntagResource":                 op((*untagResourceIn).check, (*Server).untagResource),
	"ListTagsForResource":           op((*resourceIn).check, (*Server).listTagsForResource),
	"DescribeLimits":                op((*empty).check, (*Server).describeLimits),
	"RegisterStreamConsumer":        op((*registerConsumerIn).check, (*Server).registerConsumer),
	"DescribeStreamConsumer":        op((*consumerIn).check, (*Server).describeConsumer),
	"ListStreamConsumers":           op((*listConsumersIn).check, (*Server).listConsumers),
	"DeregisterStreamConsumer":      op((*consumerIn).check, (*Server).deregisterConsumer),
	"UpdateStreamMode":              op((*updateModeIn).check, (*Server).updateStreamMode),
	"StartStreamEncryption":         op((*encryptionIn).check, (*Server).startEncryption),
	"StopStreamEncryption":          op((*encryptionIn).check, (*Server).stopEncryption),
	"EnableEnhancedMonitoring":      op((*monitoringIn).check, (*Server).enableMonitoring),
	"DisableEnhancedMonitoring":     op((*monitoringIn).check, (*Server).disableMonitoring),
	"SubscribeToShard":              op((*subscribeIn).check, (*Server).subscribeToShard),
}

// An operation is one entry of the table.
type operation struct {
	serve func(s *Server, r *request) (any, error)
}

// op makes the table entry of an operation with input In: decode the body
// into an In (SerializationException if it does not decode), check it
// against its constraints (ValidationException), and call do, whose output
// the server encodes (or, for a streamed output, lets write itself).
func op[In, Out any](check func(*In, *violations), do func(*Server, *request, *In) (Out, error)) operation {
	return operation{serve: func(s *Server, r *request) (any, error) {
		in := new(In)
		if err := r.decode(in); err != nil {
			return nil, err
		}
		var vs violations
		check(in, &vs)
		if err := vs.err(); err != nil {
			return nil, err
		}
		if err := s.authorize(r.principal, r.op, in); err != nil {
			return nil, err
		}
		return do(s, r, in)
	}}
}

func strOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

type empty struct{}

func (*empty) check(*violations) {}

// --- shapes shared by many operations ---

// streamRefIn is the StreamName/StreamARN pair most operations take.
type streamRefIn struct {
	StreamName *string `json:"StreamName"`
	StreamARN  *string `json:"StreamARN"`
}

func (in *streamRefIn) check(v *violations) {
	v.check("streamName", str(in.StreamName), streamNameRule)
	v.check("streamARN", str(in.StreamARN), streamARNRule)
}

func (in *streamRefIn) ref() shardlog.StreamRef {
	return shardlog.StreamRef{Name: strOf(in.StreamName), ARN: strOf(in.StreamARN)}
}

// streamName is the stream's name, from its name or its ARN.
func (in *streamRefIn) streamName() string {
	if in.StreamName != nil {
		return *in.StreamName
	}
	arn := strOf(in.StreamARN)
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

type streamModeDetails struct {
	StreamMode *string `json:"StreamMode"`
}

type hashKeyRange struct {
	StartingHashKey string `json:"StartingHashKey"`
	EndingHashKey   string `json:"EndingHashKey"`
}

func rangeShape(r shardlog.HashKeyRange) hashKeyRange {
	return hashKeyRange{r.Start.String(), r.End.String()}
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
		HashKeyRange:        rangeShape(sh.HashKeyRange),
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// page is one page of a listing: the items after start (exclusive), at
// most limit of them, and whether more follow.
func page[T any](items []T, key func(T) string, start string, limit int) (out []T, more bool) {
	for _, it := range items {
		if start != "" && key(it) <= start {
			continue
		}
		if len(out) == limit {
			return out, true
		}
		out = append(out, it)
	}
	return out, false
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

func (in *createStreamIn) check(v *violations) {
	v.check("streamName", str(in.StreamName), streamNameRule.Need())
	v.check("shardCount", num(in.ShardCount), positiveInt)
	if in.StreamModeDetails != nil {
		v.check("streamModeDetails.streamMode", str(in.StreamModeDetails.StreamMode), streamModeRule.Need())
	}
	checkTagMap(v, in.Tags, tagMapRule)
}

func (s *Server) createStream(_ *request, in *createStreamIn) (empty, error) {
	mode := shardlog.ModeProvisioned
	if in.StreamModeDetails != nil {
		mode = shardlog.StreamMode(*in.StreamModeDetails.StreamMode)
	}
	n := 0
	if in.ShardCount != nil {
		n = int(*in.ShardCount)
	} else if mode == shardlog.ModeProvisioned {
		return empty{}, errNeedShardCount
	}
	return empty{}, s.log.CreateStream(shardlog.CreateStreamInput{Name: *in.StreamName, ShardCount: n, Mode: mode, Tags: in.Tags})
}

type deleteStreamIn struct {
	streamRefIn
	EnforceConsumerDeletion *bool `json:"EnforceConsumerDeletion"`
}

func (s *Server) deleteStream(_ *request, in *deleteStreamIn) (empty, error) {
	return empty{}, s.log.DeleteStream(in.ref(), in.EnforceConsumerDeletion != nil && *in.EnforceConsumerDeletion)
}

type describeStreamIn struct {
	streamRefIn
	Limit                 *int64  `json:"Limit"`
	ExclusiveStartShardId *string `json:"ExclusiveStartShardId"`
}

func (in *describeStreamIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("limit", num(in.Limit), listLimit)
	v.check("exclusiveStartShardId", str(in.ExclusiveStartShardId), shardIDRule)
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

func (s *Server) describeStream(_ *request, in *describeStreamIn) (describeStreamOut, error) {
	d, err := s.log.DescribeStream(in.ref())
	if err != nil {
		return describeStreamOut{}, err
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
	shards, more := page(d.Shards, func(sh shardlog.ShardInfo) string { return sh.ShardID }, strOf(in.ExclusiveStartShardId), limit)
	for _, sh := range shards {
		out.Shards = append(out.Shards, shardShape(sh))
	}
	out.HasMoreShards = more
	return describeStreamOut{out}, nil
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

type describeSummaryOut struct {
	StreamDescriptionSummary summaryOut `json:"StreamDescriptionSummary"`
}

func (s *Server) describeStreamSummary(_ *request, in *streamRefIn) (describeSummaryOut, error) {
	d, err := s.log.DescribeStream(in.ref())
	if err != nil {
		return describeSummaryOut{}, err
	}
	return describeSummaryOut{summaryOut{
		StreamName: d.Name, StreamARN: d.ARN, StreamStatus: string(d.Status), StreamModeDetails: modeOut{string(d.Mode)},
		RetentionPeriodHours: d.RetentionHours, StreamCreationTimestamp: epochTime{d.Created},
		EnhancedMonitoring: []enhancedMetrics{{ShardLevelMetrics: nonNil(d.Monitoring)}}, EncryptionType: d.EncryptionType, KeyId: d.KeyID,
		OpenShardCount: d.OpenShardCount, ConsumerCount: d.ConsumerCount,
	}}, nil
}

type listStreamsIn struct {
	Limit                    *int64  `json:"Limit"`
	ExclusiveStartStreamName *string `json:"ExclusiveStartStreamName"`
	NextToken                *string `json:"NextToken"`
}

func (in *listStreamsIn) check(v *violations) {
	v.check("limit", num(in.Limit), listLimit)
	v.check("exclusiveStartStreamName", str(in.ExclusiveStartStreamName), streamNameRule)
	v.check("nextToken", str(in.NextToken), nextTokenRule)
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

func (s *Server) listStreams(_ *request, in *listStreamsIn) (listStreamsOut, error) {
	after := strOf(in.ExclusiveStartStreamName)
	if in.NextToken != nil {
		t, err := s.decodeToken(*in.NextToken)
		if err != nil {
			return listStreamsOut{}, err
		}
		after = t.After
	}
	limit := 100
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	out := listStreamsOut{StreamNames: []string{}, StreamSummaries: []streamSummaryOut{}}
	streams, more := page(s.log.ListStreams(), func(ss shardlog.StreamSummary) string { return ss.Name }, after, limit)
	for _, ss := range streams {
		out.StreamNames = append(out.StreamNames, ss.Name)
		out.StreamSummaries = append(out.StreamSummaries, streamSummaryOut{ss.Name, ss.ARN, string(ss.Status), modeOut{string(ss.Mode)}, epochTime{ss.Created}})
	}
	if more {
		out.HasMoreStreams = true
		out.NextToken = s.encodeToken(pageToken{After: out.StreamNames[len(out.StreamNames)-1]})
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
	MaxResults              *int64         `json:"MaxResults"`
	ExclusiveStartShardId   *string        `json:"ExclusiveStartShardId"`
	NextToken               *string        `json:"NextToken"`
	StreamCreationTimestamp *epochTime     `json:"StreamCreationTimestamp"`
	ShardFilter             *shardFilterIn `json:"ShardFilter"`
}

func (in *listShardsIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("maxResults", num(in.MaxResults), listLimit)
	v.check("exclusiveStartShardId", str(in.ExclusiveStartShardId), shardIDRule)
	v.check("nextToken", str(in.NextToken), nextTokenRule)
	if f := in.ShardFilter; f != nil && v.check("shardFilter.type", str(f.Type), shardFilterRule.Need()) {
		v.check("shardFilter.shardId", str(f.ShardId), lengthRule(1, 128))
	}
}

type listShardsOut struct {
	Shards    []shardOut `json:"Shards"`
	NextToken string     `json:"NextToken,omitempty"`
}

func (s *Server) listShards(_ *request, in *listShardsIn) (listShardsOut, error) {
	var (
		ref    = in.ref()
		after  = strOf(in.ExclusiveStartShardId)
		filter shardlog.ShardFilter
	)
	if f := in.ShardFilter; f != nil {
		filter.Type = shardlog.ShardFilterType(*f.Type)
		filter.ShardID = strOf(f.ShardId)
		if f.Timestamp != nil {
			filter.Timestamp = f.Timestamp.Time
		}
	}
	switch {
	case in.NextToken != nil && (in.StreamName != nil || in.StreamARN != nil):
		return listShardsOut{}, errTokenAndStream
	case in.NextToken != nil && (in.ExclusiveStartShardId != nil || in.ShardFilter != nil || in.StreamCreationTimestamp != nil):
		return listShardsOut{}, errTokenAndListing
	case in.NextToken != nil:
		t, err := s.decodeToken(*in.NextToken)
		if err != nil {
			return listShardsOut{}, err
		}
		ref, after, filter = shardlog.StreamRef{Name: t.Stream}, t.After, t.Filter
	case in.StreamName == nil && in.StreamARN == nil:
		return listShardsOut{}, errNoTokenNorStream
	}
	shards, err := s.log.ListShards(ref, after, filter)
	if err != nil {
		return listShardsOut{}, err
	}
	max := 1000
	if in.MaxResults != nil {
		max = int(*in.MaxResults)
	}
	shards, more := page(shards, func(sh shardlog.ShardInfo) string { return sh.ShardID }, "", max)
	out := listShardsOut{Shards: make([]shardOut, 0, len(shards))}
	for _, sh := range shards {
		out.Shards = append(out.Shards, shardShape(sh))
	}
	if more {
		name := ref.Name
		if name == "" {
			d, err := s.log.DescribeStream(ref)
			if err != nil {
				return listShardsOut{}, err
			}
			name = d.Name
		}
		out.NextToken = s.encodeToken(pageToken{Stream: name, After: out.Shards[len(out.Shards)-1].ShardId, Filter: filter})
	}
	return out, nil
}

// --- resharding ---

type splitShardIn struct {
	streamRefIn
	ShardToSplit       *string `json:"ShardToSplit"`
	NewStartingHashKey *string `json:"NewStartingHashKey"`
}

func (in *splitShardIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("shardToSplit", str(in.ShardToSplit), shardIDRule.Need())
	v.check("newStartingHashKey", str(in.NewStartingHashKey), hashKeyRule.Need())
}

func (s *Server) splitShard(_ *request, in *splitShardIn) (empty, error) {
	return empty{}, s.log.SplitShard(in.ref(), *in.ShardToSplit, *in.NewStartingHashKey)
}

type mergeShardsIn struct {
	streamRefIn
	ShardToMerge         *string `json:"ShardToMerge"`
	AdjacentShardToMerge *string `json:"AdjacentShardToMerge"`
}

func (in *mergeShardsIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("shardToMerge", str(in.ShardToMerge), shardIDRule.Need())
	v.check("adjacentShardToMerge", str(in.AdjacentShardToMerge), shardIDRule.Need())
}

func (s *Server) mergeShards(_ *request, in *mergeShardsIn) (empty, error) {
	return empty{}, s.log.MergeShards(in.ref(), *in.ShardToMerge, *in.AdjacentShardToMerge)
}

type updateShardCountIn struct {
	streamRefIn
	TargetShardCount *int64  `json:"TargetShardCount"`
	ScalingType      *string `json:"ScalingType"`
}

func (in *updateShardCountIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("targetShardCount", num(in.TargetShardCount), targetShards.Need())
	v.check("scalingType", str(in.ScalingType), scalingRule.Need())
}

type updateShardCountOut struct {
	StreamName        string `json:"StreamName"`
	StreamARN         string `json:"StreamARN"`
	CurrentShardCount int    `json:"CurrentShardCount"`
	TargetShardCount  int64  `json:"TargetShardCount"`
}

func (s *Server) updateShardCount(_ *request, in *updateShardCountIn) (updateShardCountOut, error) {
	ref := in.ref()
	cur, err := s.log.UpdateShardCount(ref, int(*in.TargetShardCount), *in.ScalingType)
	if err != nil {
		return updateShardCountOut{}, err
	}
	d, err := s.log.DescribeStream(ref)
	if err != nil {
		return updateShardCountOut{}, err
	}
	return updateShardCountOut{d.Name, d.ARN, cur, *in.TargetShardCount}, nil
}

// --- retention ---

type retentionIn struct {
	streamRefIn
	RetentionPeriodHours *int64 `json:"RetentionPeriodHours"`
}

func (in *retentionIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("retentionPeriodHours", num(in.RetentionPeriodHours), positiveInt.Need())
}

func (s *Server) increaseRetention(_ *request, in *retentionIn) (empty, error) {
	return empty{}, s.log.IncreaseRetention(in.ref(), int(*in.RetentionPeriodHours))
}

func (s *Server) decreaseRetention(_ *request, in *retentionIn) (empty, error) {
	return empty{}, s.log.DecreaseRetention(in.ref(), int(*in.RetentionPeriodHours))
}

// --- tags ---

type addTagsIn struct {
	streamRefIn
	Tags map[string]string `json:"Tags"`
}

func (in *addTagsIn) check(v *violations) {
	in.streamRefIn.check(v)
	checkTagMap(v, in.Tags, tagMapRule.Need())
}

// checkTagMap checks a map of tags: its size, then its keys' and values'
// lengths (the service reports each as one constraint of the whole map).
func checkTagMap(v *violations, tags map[string]string, r rule) {
	d := dict(tags)
	if !v.check("tags", d, r) {
		return
	}
	keys := make([]string, 0, len(tags))
	vals := make([]string, 0, len(tags))
	for k, val := range tags {
		keys, vals = append(keys, k), append(vals, val)
	}
	v.checkElements("tags", d, keys, "Map keys", 1, 128)
	v.checkElements("tags", d, vals, "Map value", 0, 256)
}

// checkTagKeys checks a list of tag keys: its length, then the keys'.
func checkTagKeys(v *violations, keys []string, r rule) {
	l := strs(keys)
	if v.check("tagKeys", l, r) {
		v.checkElements("tagKeys", l, keys, "Member", 1, 128)
	}
}

func (s *Server) addTags(_ *request, in *addTagsIn) (empty, error) {
	return empty{}, s.log.AddTags(in.ref(), in.Tags)
}

type removeTagsIn struct {
	streamRefIn
	TagKeys []string `json:"TagKeys"`
}

func (in *removeTagsIn) check(v *violations) {
	in.streamRefIn.check(v)
	checkTagKeys(v, in.TagKeys, tagKeysRule.Need())
}

func (s *Server) removeTags(_ *request, in *removeTagsIn) (empty, error) {
	return empty{}, s.log.RemoveTags(in.ref(), in.TagKeys)
}

type listTagsIn struct {
	streamRefIn
	ExclusiveStartTagKey *string `json:"ExclusiveStartTagKey"`
	Limit                *int64  `json:"Limit"`
}

func (in *listTagsIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("limit", num(in.Limit), tagLimit)
	v.check("exclusiveStartTagKey", str(in.ExclusiveStartTagKey), tagKeyRule)
}

type tagOut struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type listTagsOut struct {
	Tags        []tagOut `json:"Tags"`
	HasMoreTags bool     `json:"HasMoreTags"`
}

func (s *Server) listTags(_ *request, in *listTagsIn) (listTagsOut, error) {
	tags, err := s.log.ListTags(in.ref())
	if err != nil {
		return listTagsOut{}, err
	}
	limit := 50
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	start := strOf(in.ExclusiveStartTagKey)
	out := listTagsOut{Tags: []tagOut{}}
	tags, out.HasMoreTags = page(tags, func(t shardlog.Tag) string { return t.Key }, start, limit)
	for _, t := range tags {
		out.Tags = append(out.Tags, tagOut{t.Key, t.Value})
	}
	return out, nil
}

// resourceIn names a stream by ResourceARN (TagResource and its kin).
type resourceIn struct {
	ResourceARN *string `json:"ResourceARN"`
}

func (in *resourceIn) check(v *violations) {
	v.check("resourceARN", str(in.ResourceARN), streamARNRule.Need())
}

func (in *resourceIn) ref() shardlog.StreamRef { return shardlog.StreamRef{ARN: strOf(in.ResourceARN)} }

type tagResourceIn struct {
	resourceIn
	Tags map[string]string `json:"Tags"`
}

// check reports the tags only once the ARN is well-formed, as Kinesis does.
func (in *tagResourceIn) check(v *violations) {
	if in.resourceIn.check(v); len(v.Msgs) == 0 {
		checkTagMap(v, in.Tags, tagMapRule.Need())
	}
}

func (s *Server) tagResource(_ *request, in *tagResourceIn) (empty, error) {
	return empty{}, s.log.AddTags(in.ref(), in.Tags)
}

type untagResourceIn struct {
	resourceIn
	TagKeys []string `json:"TagKeys"`
}

// check reports the keys only once the ARN is well-formed, as Kinesis does.
func (in *untagResourceIn) check(v *violations) {
	if in.resourceIn.check(v); len(v.Msgs) == 0 {
		checkTagKeys(v, in.TagKeys, tagKeysRule.Need())
	}
}

func (s *Server) untagResource(_ *request, in *untagResourceIn) (empty, error) {
	return empty{}, s.log.RemoveTags(in.ref(), in.TagKeys)
}

type tagsOut struct {
	Tags []tagOut `json:"Tags"`
}

func (s *Server) listTagsForResource(_ *request, in *resourceIn) (tagsOut, error) {
	tags, err := s.log.ListTags(in.ref())
	if err != nil {
		return tagsOut{}, err
	}
	out := tagsOut{Tags: []tagOut{}}
	for _, t := range tags {
		out.Tags = append(out.Tags, tagOut{t.Key, t.Value})
	}
	return out, nil
}

// --- limits, modes, encryption, monitoring ---

type limitsOut struct {
	ShardLimit               int `json:"ShardLimit"`
	OpenShardCount           int `json:"OpenShardCount"`
	OnDemandStreamCount      int `json:"OnDemandStreamCount"`
	OnDemandStreamCountLimit int `json:"OnDemandStreamCountLimit"`
}

func (s *Server) describeLimits(*request, *empty) (limitsOut, error) {
	l := s.log.DescribeLimits()
	return limitsOut{l.ShardLimit, l.OpenShardCount, l.OnDemandStreamCount, l.OnDemandStreamCountLimit}, nil
}

type updateModeIn struct {
	StreamARN         *string            `json:"StreamARN"`
	StreamModeDetails *streamModeDetails `json:"StreamModeDetails"`
}

func (in *updateModeIn) check(v *violations) {
	v.check("streamARN", str(in.StreamARN), streamARNRule.Need())
	if v.check("streamModeDetails", object(in.StreamModeDetails != nil), rule{}.Need()) {
		v.check("streamModeDetails.streamMode", str(in.StreamModeDetails.StreamMode), streamModeRule.Need())
	}
}

func (s *Server) updateStreamMode(_ *request, in *updateModeIn) (empty, error) {
	return empty{}, s.log.UpdateStreamMode(shardlog.StreamRef{ARN: *in.StreamARN}, shardlog.StreamMode(*in.StreamModeDetails.StreamMode))
}

type encryptionIn struct {
	streamRefIn
	EncryptionType *string `json:"EncryptionType"`
	KeyId          *string `json:"KeyId"`
}

func (in *encryptionIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("encryptionType", str(in.EncryptionType), encryptionRule.Need())
	v.check("keyId", str(in.KeyId), keyIDRule.Need())
}

func (s *Server) startEncryption(_ *request, in *encryptionIn) (empty, error) {
	return empty{}, s.log.SetEncryption(in.ref(), *in.EncryptionType, *in.KeyId)
}

func (s *Server) stopEncryption(_ *request, in *encryptionIn) (empty, error) {
	return empty{}, s.log.SetEncryption(in.ref(), "NONE", *in.KeyId)
}

type monitoringIn struct {
	streamRefIn
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

func (in *monitoringIn) check(v *violations) {
	in.streamRefIn.check(v)
	if v.check("shardLevelMetrics", elided(in.ShardLevelMetrics), metricsRule.Need()) {
		for i := range in.ShardLevelMetrics {
			v.check("shardLevelMetrics", str(&in.ShardLevelMetrics[i]), metricRule)
		}
	}
}

type monitoringOut struct {
	StreamName               string   `json:"StreamName"`
	StreamARN                string   `json:"StreamARN"`
	CurrentShardLevelMetrics []string `json:"CurrentShardLevelMetrics"`
	DesiredShardLevelMetrics []string `json:"DesiredShardLevelMetrics"`
}

func (s *Server) enableMonitoring(_ *request, in *monitoringIn) (monitoringOut, error) {
	return s.monitoring(in, true)
}

func (s *Server) disableMonitoring(_ *request, in *monitoringIn) (monitoringOut, error) {
	return s.monitoring(in, false)
}

func (s *Server) monitoring(in *monitoringIn, enable bool) (monitoringOut, error) {
	ref := in.ref()
	before, after, err := s.log.SetMonitoring(ref, in.ShardLevelMetrics, enable)
	if err != nil {
		return monitoringOut{}, err
	}
	d, err := s.log.DescribeStream(ref)
	if err != nil {
		return monitoringOut{}, err
	}
	return monitoringOut{d.Name, d.ARN, nonNil(before), nonNil(after)}, nil
}

// --- consumers ---

type consumerIn struct {
	StreamARN    *string `json:"StreamARN"`
	ConsumerName *string `json:"ConsumerName"`
	ConsumerARN  *string `json:"ConsumerARN"`
}

func (in *consumerIn) check(v *violations) {
	v.check("streamARN", str(in.StreamARN), streamARNRule)
	v.check("consumerName", str(in.ConsumerName), consumerRule)
	v.check("consumerARN", str(in.ConsumerARN), consumerARNRule)
}

type registerConsumerIn struct{ consumerIn }

// check reports missing members first, as Kinesis does for this
// operation.
func (in *registerConsumerIn) check(v *violations) {
	v.check("streamARN", str(in.StreamARN), rule{}.Need())
	v.check("consumerName", str(in.ConsumerName), rule{}.Need())
	in.consumerIn.check(v)
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

type registerConsumerOut struct {
	Consumer consumerOut `json:"Consumer"`
}

func (s *Server) registerConsumer(_ *request, in *registerConsumerIn) (registerConsumerOut, error) {
	c, err := s.log.RegisterStreamConsumer(*in.StreamARN, *in.ConsumerName)
	if err != nil {
		return registerConsumerOut{}, err
	}
	return registerConsumerOut{consumerShape(c, false)}, nil
}

type describeConsumerOut struct {
	ConsumerDescription consumerOut `json:"ConsumerDescription"`
}

func (s *Server) describeConsumer(_ *request, in *consumerIn) (describeConsumerOut, error) {
	c, err := s.log.DescribeStreamConsumer(strOf(in.StreamARN), strOf(in.ConsumerName), strOf(in.ConsumerARN))
	if err != nil {
		return describeConsumerOut{}, err
	}
	return describeConsumerOut{consumerShape(c, true)}, nil
}

func (s *Server) deregisterConsumer(_ *request, in *consumerIn) (empty, error) {
	return empty{}, s.log.DeregisterStreamConsumer(strOf(in.StreamARN), strOf(in.ConsumerName), strOf(in.ConsumerARN))
}

type listConsumersIn struct {
	StreamARN               *string    `json:"StreamARN"`
	NextToken               *string    `json:"NextToken"`
	MaxResults              *int64     `json:"MaxResults"`
	StreamCreationTimestamp *epochTime `json:"StreamCreationTimestamp"`
}

func (in *listConsumersIn) check(v *violations) {
	v.check("streamARN", str(in.StreamARN), streamARNRule.Need())
	v.check("maxResults", num(in.MaxResults), listLimit)
	v.check("nextToken", str(in.NextToken), nextTokenRule)
}

type listConsumersOut struct {
	Consumers []consumerOut `json:"Consumers"`
	NextToken string        `json:"NextToken,omitempty"`
}

func (s *Server) listConsumers(_ *request, in *listConsumersIn) (listConsumersOut, error) {
	after := ""
	if in.NextToken != nil {
		t, err := s.decodeToken(*in.NextToken)
		if err != nil {
			return listConsumersOut{}, err
		}
		after = t.After
	}
	cs, err := s.log.ListStreamConsumers(*in.StreamARN)
	if err != nil {
		return listConsumersOut{}, err
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].ARN < cs[j].ARN })
	max := 100
	if in.MaxResults != nil {
		max = int(*in.MaxResults)
	}
	cs, more := page(cs, func(c shardlog.Consumer) string { return c.ARN }, after, max)
	out := listConsumersOut{Consumers: []consumerOut{}}
	for _, c := range cs {
		out.Consumers = append(out.Consumers, consumerShape(c, false))
	}
	if more {
		out.NextToken = s.encodeToken(pageToken{After: cs[len(cs)-1].ARN})
	}
	return out, nil
}
