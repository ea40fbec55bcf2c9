package kinesisapi

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// The data path: PutRecord(s), GetShardIterator and GetRecords. PutRecords
// decodes its common shape without reflection (fastput.go), and the JSON
// answers of PutRecords and GetRecords encode themselves.

type putRecordIn struct {
	streamRefIn
	Data                      []byte  `json:"Data"`
	PartitionKey              *string `json:"PartitionKey"`
	ExplicitHashKey           *string `json:"ExplicitHashKey"`
	SequenceNumberForOrdering *string `json:"SequenceNumberForOrdering"`
}

func (in *putRecordIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("data", blob(in.Data), recordData.Need())
	v.check("partitionKey", str(in.PartitionKey), partitionKey.Need())
	v.check("explicitHashKey", str(in.ExplicitHashKey), hashKeyRule)
	v.check("sequenceNumberForOrdering", str(in.SequenceNumberForOrdering), sequenceRule)
}

type putRecordOut struct {
	ShardId        string `json:"ShardId"`
	SequenceNumber string `json:"SequenceNumber"`
	EncryptionType string `json:"EncryptionType,omitempty"`
}

func (s *Server) putRecord(r *request, in *putRecordIn) (putRecordOut, error) {
	res, err := s.log.PutRecord(r.ctx, in.ref(), shardlog.PutEntry{
		PartitionKey: *in.PartitionKey, ExplicitHashKey: strOf(in.ExplicitHashKey), Data: in.Data,
	}, strOf(in.SequenceNumberForOrdering))
	if err != nil {
		return putRecordOut{}, err
	}
	if s.opts.OnPut != nil {
		s.opts.OnPut(in.streamName(), res.ShardID, len(in.Data))
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

// decodeFast is the JSON decoding of the common shape (fastput.go).
func (in *putRecordsIn) decodeFast(body []byte) bool {
	var ok bool
	*in, ok = fastPutRecords(body)
	return ok
}

func (in *putRecordsIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("records", list(in.Records), recordsRule.Need())
	dataRule, keyRule := recordData.Need(), partitionKey.Need()
	for i := range in.Records {
		e := &in.Records[i]
		data, key, hash := blob(e.Data), str(e.PartitionKey), str(e.ExplicitHashKey)
		if dataRule.Holds(data) && keyRule.Holds(key) && e.ExplicitHashKey == nil {
			continue // the common case, checked without building paths
		}
		p := "records." + strconv.Itoa(i+1) + ".member."
		v.check(p+"data", data, dataRule)
		v.check(p+"partitionKey", key, keyRule)
		v.check(p+"explicitHashKey", hash, hashKeyRule)
		// Every record is checked: the message counts all violations,
		// though it lists only the first ten.
	}
}

// putRecordsOut encodes itself (fastJSON); the CBOR path uses the tags.
type putRecordsOut struct {
	FailedRecordCount int                  `json:"FailedRecordCount"`
	Records           []putRecordsEntryOut `json:"Records"`
	EncryptionType    string               `json:"EncryptionType,omitempty"`
	results           []shardlog.PutResult
	s                 *Server
	op                string
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
	for i := range o.results {
		r := &o.results[i]
		if i > 0 {
			b = append(b, ',')
		}
		if r.Err != nil {
			code, msg, _ := o.s.answer(o.op, r.Err)
			b = append(b, `{"ErrorCode":`...)
			b = appendJSONString(b, string(code))
			b = append(b, `,"ErrorMessage":`...)
			b = appendJSONString(b, msg)
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

func (s *Server) putRecords(r *request, in *putRecordsIn) (*putRecordsOut, error) {
	entries := make([]shardlog.PutEntry, len(in.Records))
	for i, e := range in.Records {
		entries[i] = shardlog.PutEntry{PartitionKey: *e.PartitionKey, ExplicitHashKey: strOf(e.ExplicitHashKey), Data: e.Data}
	}
	res, err := s.log.PutRecords(r.ctx, in.ref(), entries, make([]shardlog.PutResult, 0, len(entries)))
	if err != nil {
		return nil, err
	}
	out := &putRecordsOut{results: res, EncryptionType: "NONE", s: s, op: r.op}
	for i, x := range res {
		if x.Err != nil {
			out.FailedRecordCount++
		} else if s.opts.OnPut != nil {
			s.opts.OnPut(in.streamName(), x.ShardID, len(entries[i].Data))
		}
	}
	if r.cbor {
		for _, x := range res {
			if x.Err != nil {
				code, msg, _ := s.answer(r.op, x.Err)
				out.Records = append(out.Records, putRecordsEntryOut{ErrorCode: string(code), ErrorMessage: msg})
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

func (in *getShardIteratorIn) check(v *violations) {
	in.streamRefIn.check(v)
	v.check("shardId", str(in.ShardId), shardIDRule.Need())
	v.check("shardIteratorType", str(in.ShardIteratorType), iteratorTypes.Need())
	v.check("startingSequenceNumber", str(in.StartingSequenceNumber), sequenceRule)
}

type shardIteratorOut struct {
	ShardIterator string `json:"ShardIterator"`
}

func (s *Server) getShardIterator(_ *request, in *getShardIteratorIn) (shardIteratorOut, error) {
	p := shardlog.StartPosition{Type: shardlog.IteratorType(*in.ShardIteratorType), SequenceNumber: strOf(in.StartingSequenceNumber)}
	if in.Timestamp != nil {
		p.Timestamp = in.Timestamp.Time
	}
	it, err := s.log.GetShardIterator(in.ref(), *in.ShardId, p)
	if err != nil {
		return shardIteratorOut{}, err
	}
	return shardIteratorOut{s.encodeIterator(it)}, nil
}

type getRecordsIn struct {
	ShardIterator *string `json:"ShardIterator"`
	Limit         *int64  `json:"Limit"`
	StreamARN     *string `json:"StreamARN"`
}

func (in *getRecordsIn) check(v *violations) {
	v.check("shardIterator", str(in.ShardIterator), iteratorRule.Need())
	v.check("limit", num(in.Limit), listLimit)
	v.check("streamARN", str(in.StreamARN), streamARNRule)
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
		out = append(out, childShardOut{c.ShardID, c.ParentShards, rangeShape(c.HashKeyRange)})
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
	next               string // the next iterator's token, or ""
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
	if o.next != "" {
		b = append(b, `,"NextShardIterator":"`...)
		b = append(b, o.next...)
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

func (s *Server) getRecords(r *request, in *getRecordsIn) (*getRecordsOut, error) {
	it, err := s.decodeIterator(*in.ShardIterator)
	if err != nil {
		return nil, err
	}
	limit := 0
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	buf := getRecordBuffer()
	res, err := s.log.GetRecords(r.ctx, it, limit, buf)
	if err != nil {
		putRecordBuffer(buf)
		return nil, err
	}
	out := &getRecordsOut{res: &res, buf: buf}
	if !res.NextShardIterator.IsZero() {
		out.next = s.encodeIterator(res.NextShardIterator)
	}
	if r.cbor {
		out.Records = make([]recordOut, 0, len(res.Records))
		for _, rec := range res.Records {
			out.Records = append(out.Records, recordOut{rec.SequenceNumber.String(), epochTime{rec.ArrivalTime}, append([]byte(nil), rec.Data...), string(rec.PartitionKey)})
		}
		if out.next != "" {
			out.NextShardIterator = &out.next
		}
		out.MillisBehindLatest = res.MillisBehindLatest
		if res.ShardEnded {
			out.ChildShards = childShapes(res.ChildShards)
		}
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
