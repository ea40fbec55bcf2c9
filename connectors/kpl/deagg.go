package kpl

import (
	"errors"
	"sync/atomic"
)

// UserRecord is one user record of a Kinesis record: a record of an
// aggregate, or the Kinesis record itself when it is not aggregated (or is
// a corrupt aggregate, passed on whole). With the Kinesis record's sequence
// number, SubSequenceNumber orders and names it, as the KCL's UserRecord.
type UserRecord struct {
	PartitionKey string
	// ExplicitHashKey is the user record's explicit hash key, "" when it
	// has none (for a record that is not aggregated: the one the caller
	// passed, which Kinesis does not return).
	ExplicitHashKey string
	Data            []byte
	Tags            []Tag
	// SubSequenceNumber is the record's index in its aggregate; 0 for a
	// record that is not aggregated.
	SubSequenceNumber uint64
	// Aggregated says the record came out of an aggregate.
	Aggregated bool
}

// Deaggregator de-aggregates Kinesis records and counts the corrupt
// aggregates it passed on whole. One Deaggregator must not be used by
// several goroutines at once; Corrupt may be read from any.
type Deaggregator struct {
	scratch AggregatedRecord
	corrupt atomic.Int64
}

// Corrupt returns how many records with the magic prefix were not valid
// aggregates and were passed on whole.
func (d *Deaggregator) Corrupt() int64 { return d.corrupt.Load() }

// Append appends the user records of one Kinesis record (its partition
// key, explicit hash key if known, and data) to dst. A record that is not
// aggregated is appended as it is. A corrupt aggregate is appended whole
// as one record (SubSequenceNumber 0, Aggregated false), counted, and its
// error returned so that the caller can report it with the record's shard
// and sequence number; dst is extended in every case. The user records'
// Data alias data.
func (d *Deaggregator) Append(dst []UserRecord, partitionKey, explicitHashKey string, data []byte) ([]UserRecord, *CorruptError) {
	raw := UserRecord{PartitionKey: partitionKey, ExplicitHashKey: explicitHashKey, Data: data}
	if !IsAggregated(data) {
		return append(dst, raw), nil
	}
	a := &d.scratch
	if err := a.unmarshal(data); err != nil {
		var ce *CorruptError
		if !errors.As(err, &ce) {
			ce = &CorruptError{Reason: "unreadable", Err: err}
		}
		d.corrupt.Add(1)
		clear(a.Records[:cap(a.Records)])
		return append(dst, raw), ce
	}
	for i := range a.Records {
		r := &a.Records[i]
		u := UserRecord{
			PartitionKey:      a.PartitionKeyTable[r.PartitionKeyIndex],
			Data:              r.Data,
			Tags:              r.Tags,
			SubSequenceNumber: uint64(i),
			Aggregated:        true,
		}
		if r.HasExplicitHashKeyIndex {
			u.ExplicitHashKey = a.ExplicitHashKeyTable[r.ExplicitHashKeyIndex]
		}
		dst = append(dst, u)
	}
	// The scratch keeps no reference to data past this call.
	clear(a.Records[:cap(a.Records)])
	return dst, nil
}

// Deaggregate returns the user records of one Kinesis record, and the
// reason it was passed on whole if it is a corrupt aggregate. It counts
// nothing; use a Deaggregator in a loop.
func Deaggregate(partitionKey, explicitHashKey string, data []byte) ([]UserRecord, error) {
	var d Deaggregator
	out, ce := d.Append(nil, partitionKey, explicitHashKey, data)
	if ce != nil {
		return out, ce
	}
	return out, nil
}
