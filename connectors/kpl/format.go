package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Magic is the prefix of every aggregated record.
var Magic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

// digestSize is the size of the MD5 trailer.
const digestSize = md5.Size

// overhead is what an aggregate adds to its protobuf body.
const overhead = len(Magic) + digestSize

// Field numbers of the protobuf messages.
const (
	fieldPartitionKeyTable    = 1
	fieldExplicitHashKeyTable = 2
	fieldRecords              = 3

	fieldPartitionKeyIndex    = 1
	fieldExplicitHashKeyIndex = 2
	fieldData                 = 3
	fieldTags                 = 4

	fieldTagKey   = 1
	fieldTagValue = 2
)

// Tag is a user record's tag (the KPL writes none; the format has them).
type Tag struct {
	Key      string
	Value    string
	HasValue bool
}

// Record is one user record inside an AggregatedRecord.
type Record struct {
	PartitionKeyIndex       uint64
	ExplicitHashKeyIndex    uint64
	HasExplicitHashKeyIndex bool
	Data                    []byte
	Tags                    []Tag
}

// AggregatedRecord is the protobuf body of an aggregate.
type AggregatedRecord struct {
	PartitionKeyTable    []string
	ExplicitHashKeyTable []string
	Records              []Record
}

// ErrNotAggregated is returned by Unmarshal for data without the magic
// prefix: a plain record.
var ErrNotAggregated = errors.New("kpl: not an aggregated record (no magic prefix)")

// CorruptError says why data that starts with the magic prefix is not a
// valid aggregate.
type CorruptError struct {
	Reason string
	Err    error // the protobuf parse error, if that was the reason
}

func (e *CorruptError) Error() string {
	if e.Err != nil {
		return "kpl: corrupt aggregated record: " + e.Reason + ": " + e.Err.Error()
	}
	return "kpl: corrupt aggregated record: " + e.Reason
}

func (e *CorruptError) Unwrap() error { return e.Err }

func corrupt(format string, args ...any) *CorruptError {
	return &CorruptError{Reason: fmt.Sprintf(format, args...)}
}

// IsAggregated reports whether data starts with the magic prefix. Such data
// is meant as an aggregate; Unmarshal says whether it is a valid one.
func IsAggregated(data []byte) bool {
	return len(data) >= len(Magic) && bytes.Equal(data[:len(Magic)], Magic[:])
}

// Unmarshal parses an aggregate. It returns ErrNotAggregated when data
// lacks the magic prefix and a *CorruptError when the rest is not a valid
// aggregate: too short for the MD5, a wrong MD5, a protobuf body that does
// not parse, a required field missing, or a key index past its table. The
// records' Data alias data.
func Unmarshal(data []byte) (*AggregatedRecord, error) {
	a := &AggregatedRecord{}
	if err := a.unmarshal(data); err != nil {
		return nil, err
	}
	return a, nil
}

// unmarshal fills a, reusing its slices.
func (a *AggregatedRecord) unmarshal(data []byte) error {
	if !IsAggregated(data) {
		return ErrNotAggregated
	}
	if len(data) < overhead {
		return corrupt("%d bytes is shorter than the magic prefix and MD5 trailer (%d bytes)", len(data), overhead)
	}
	body := data[len(Magic) : len(data)-digestSize]
	sum := md5.Sum(body)
	if !bytes.Equal(sum[:], data[len(data)-digestSize:]) {
		return corrupt("MD5 of the body does not match the trailer")
	}
	a.PartitionKeyTable = a.PartitionKeyTable[:0]
	a.ExplicitHashKeyTable = a.ExplicitHashKeyTable[:0]
	a.Records = a.Records[:0]
	b := body
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return &CorruptError{Reason: "AggregatedRecord field tag", Err: protowire.ParseError(n)}
		}
		b = b[n:]
		switch {
		case num == fieldPartitionKeyTable && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &CorruptError{Reason: "partition_key_table", Err: protowire.ParseError(n)}
			}
			a.PartitionKeyTable = append(a.PartitionKeyTable, string(v))
			b = b[n:]
		case num == fieldExplicitHashKeyTable && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &CorruptError{Reason: "explicit_hash_key_table", Err: protowire.ParseError(n)}
			}
			a.ExplicitHashKeyTable = append(a.ExplicitHashKeyTable, string(v))
			b = b[n:]
		case num == fieldRecords && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &CorruptError{Reason: "records", Err: protowire.ParseError(n)}
			}
			a.Records = append(a.Records, Record{})
			if err := a.Records[len(a.Records)-1].unmarshal(v, len(a.Records)-1); err != nil {
				return err
			}
			b = b[n:]
		default:
			// Unknown fields are skipped, as protobuf readers do.
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return &CorruptError{Reason: fmt.Sprintf("AggregatedRecord field %d", num), Err: protowire.ParseError(n)}
			}
			b = b[n:]
		}
	}
	for i := range a.Records {
		r := &a.Records[i]
		if r.PartitionKeyIndex >= uint64(len(a.PartitionKeyTable)) {
			return corrupt("record %d: partition_key_index %d is out of range (table of %d)", i, r.PartitionKeyIndex, len(a.PartitionKeyTable))
		}
		if r.HasExplicitHashKeyIndex && r.ExplicitHashKeyIndex >= uint64(len(a.ExplicitHashKeyTable)) {
			return corrupt("record %d: explicit_hash_key_index %d is out of range (table of %d)", i, r.ExplicitHashKeyIndex, len(a.ExplicitHashKeyTable))
		}
	}
	return nil
}

func (r *Record) unmarshal(b []byte, i int) error {
	var hasPK, hasData bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return &CorruptError{Reason: fmt.Sprintf("record %d: field tag", i), Err: protowire.ParseError(n)}
		}
		b = b[n:]
		switch {
		case num == fieldPartitionKeyIndex && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return &CorruptError{Reason: fmt.Sprintf("record %d: partition_key_index", i), Err: protowire.ParseError(n)}
			}
			r.PartitionKeyIndex, hasPK = v, true
			b = b[n:]
		case num == fieldExplicitHashKeyIndex && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return &CorruptError{Reason: fmt.Sprintf("record %d: explicit_hash_key_index", i), Err: protowire.ParseError(n)}
			}
			r.ExplicitHashKeyIndex, r.HasExplicitHashKeyIndex = v, true
			b = b[n:]
		case num == fieldData && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &CorruptError{Reason: fmt.Sprintf("record %d: data", i), Err: protowire.ParseError(n)}
			}
			r.Data, hasData = v, true
			b = b[n:]
		case num == fieldTags && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &CorruptError{Reason: fmt.Sprintf("record %d: tags", i), Err: protowire.ParseError(n)}
			}
			t, err := unmarshalTag(v, i)
			if err != nil {
				return err
			}
			r.Tags = append(r.Tags, t)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return &CorruptError{Reason: fmt.Sprintf("record %d: field %d", i, num), Err: protowire.ParseError(n)}
			}
			b = b[n:]
		}
	}
	if !hasPK {
		return corrupt("record %d: required partition_key_index is missing", i)
	}
	if !hasData {
		return corrupt("record %d: required data is missing", i)
	}
	return nil
}

func unmarshalTag(b []byte, i int) (Tag, error) {
	var t Tag
	hasKey := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return t, &CorruptError{Reason: fmt.Sprintf("record %d: tag field tag", i), Err: protowire.ParseError(n)}
		}
		b = b[n:]
		switch {
		case (num == fieldTagKey || num == fieldTagValue) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return t, &CorruptError{Reason: fmt.Sprintf("record %d: tag", i), Err: protowire.ParseError(n)}
			}
			if num == fieldTagKey {
				t.Key, hasKey = string(v), true
			} else {
				t.Value, t.HasValue = string(v), true
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return t, &CorruptError{Reason: fmt.Sprintf("record %d: tag field %d", i, num), Err: protowire.ParseError(n)}
			}
			b = b[n:]
		}
	}
	if !hasKey {
		return t, corrupt("record %d: a tag's required key is missing", i)
	}
	return t, nil
}

// Marshal returns the aggregate's bytes: magic, body, MD5. It does not
// check the indexes (Aggregator writes only valid ones).
func (a *AggregatedRecord) Marshal() []byte {
	n := a.bodySize()
	out := make([]byte, 0, overhead+n)
	out = append(out, Magic[:]...)
	out = a.appendBody(out)
	sum := md5.Sum(out[len(Magic):])
	return append(out, sum[:]...)
}

func (a *AggregatedRecord) appendBody(b []byte) []byte {
	for _, k := range a.PartitionKeyTable {
		b = protowire.AppendTag(b, fieldPartitionKeyTable, protowire.BytesType)
		b = protowire.AppendString(b, k)
	}
	for _, k := range a.ExplicitHashKeyTable {
		b = protowire.AppendTag(b, fieldExplicitHashKeyTable, protowire.BytesType)
		b = protowire.AppendString(b, k)
	}
	for i := range a.Records {
		r := &a.Records[i]
		b = protowire.AppendTag(b, fieldRecords, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(r.size()))
		b = r.appendTo(b)
	}
	return b
}

func (a *AggregatedRecord) bodySize() int {
	n := 0
	for _, k := range a.PartitionKeyTable {
		n += tableEntrySize(len(k))
	}
	for _, k := range a.ExplicitHashKeyTable {
		n += tableEntrySize(len(k))
	}
	for i := range a.Records {
		n += recordFieldSize(a.Records[i].size())
	}
	return n
}

// tableEntrySize is the size of a key table entry (tag, length, bytes).
func tableEntrySize(n int) int { return 1 + protowire.SizeBytes(n) }

// recordFieldSize is the size of the records field of a Record of size n.
func recordFieldSize(n int) int { return 1 + protowire.SizeBytes(n) }

// size is the encoded size of r's own message.
func (r *Record) size() int {
	n := 1 + protowire.SizeVarint(r.PartitionKeyIndex)
	if r.HasExplicitHashKeyIndex {
		n += 1 + protowire.SizeVarint(r.ExplicitHashKeyIndex)
	}
	n += 1 + protowire.SizeBytes(len(r.Data))
	for _, t := range r.Tags {
		n += 1 + protowire.SizeBytes(t.size())
	}
	return n
}

func (t Tag) size() int {
	n := 1 + protowire.SizeBytes(len(t.Key))
	if t.HasValue {
		n += 1 + protowire.SizeBytes(len(t.Value))
	}
	return n
}

func (r *Record) appendTo(b []byte) []byte {
	b = protowire.AppendTag(b, fieldPartitionKeyIndex, protowire.VarintType)
	b = protowire.AppendVarint(b, r.PartitionKeyIndex)
	if r.HasExplicitHashKeyIndex {
		b = protowire.AppendTag(b, fieldExplicitHashKeyIndex, protowire.VarintType)
		b = protowire.AppendVarint(b, r.ExplicitHashKeyIndex)
	}
	b = protowire.AppendTag(b, fieldData, protowire.BytesType)
	b = protowire.AppendBytes(b, r.Data)
	for _, t := range r.Tags {
		b = protowire.AppendTag(b, fieldTags, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(t.size()))
		b = protowire.AppendTag(b, fieldTagKey, protowire.BytesType)
		b = protowire.AppendString(b, t.Key)
		if t.HasValue {
			b = protowire.AppendTag(b, fieldTagValue, protowire.BytesType)
			b = protowire.AppendString(b, t.Value)
		}
	}
	return b
}
