package shardlog

import (
	"strconv"
)

// SequenceNumber identifies a record within a stream. Its text form is a
// decimal integer (as Kinesis's) that is strictly increasing within a shard
// and also names the shard, so that a sequence number used with another
// shard is refused:
//
//	"1" + 20-digit shard index + 25-digit position
//
// 46 digits, no leading zero, so numeric and string order agree. Position
// p is record offset p-1: position 0 is the shard's starting sequence number,
// which no record has, so that AFTER_SEQUENCE_NUMBER with it reads from the
// first record.
type SequenceNumber struct {
	Shard uint32 // the shard's index (shardId-000000000007 is 7)
	Pos   uint64 // record offset + 1
}

const seqLen = 46

// seqForOffset is the sequence number of the record at offset off.
func seqForOffset(shard uint32, off uint64) SequenceNumber {
	return SequenceNumber{Shard: shard, Pos: off + 1}
}

// Offset is the storage offset of the record with this sequence number.
func (s SequenceNumber) Offset() uint64 {
	if s.Pos == 0 {
		return 0
	}
	return s.Pos - 1
}

// AppendText appends the decimal form to dst.
func (s SequenceNumber) AppendText(dst []byte) []byte {
	dst = append(dst, '1')
	dst = appendPadded(dst, uint64(s.Shard), 20)
	return appendPadded(dst, s.Pos, 25)
}

// String returns the decimal form.
func (s SequenceNumber) String() string {
	var b [seqLen]byte
	return string(s.AppendText(b[:0]))
}

func appendPadded(dst []byte, v uint64, width int) []byte {
	var b [25]byte
	d := strconv.AppendUint(b[:0], v, 10)
	for i := len(d); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, d...)
}

// ParseSequenceNumber parses the decimal form. ok is false for anything
// this log did not issue.
func ParseSequenceNumber(s string) (SequenceNumber, bool) {
	if len(s) != seqLen || s[0] != '1' {
		return SequenceNumber{}, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return SequenceNumber{}, false
		}
	}
	shard, err := strconv.ParseUint(s[1:21], 10, 32)
	if err != nil {
		return SequenceNumber{}, false
	}
	pos, err := strconv.ParseUint(s[21:], 10, 64)
	if err != nil {
		return SequenceNumber{}, false
	}
	return SequenceNumber{Shard: uint32(shard), Pos: pos}, true
}

// validSeqSyntax reports whether s matches Kinesis's sequence number pattern
// 0|([1-9]\d{0,128}).
func validSeqSyntax(s string) bool {
	if s == "0" {
		return true
	}
	if len(s) == 0 || len(s) > 129 || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ShardID returns the Kinesis shard id for index i: shardId-000000000007.
func ShardID(i uint32) string {
	var b [20]byte
	return string(appendPadded(append(b[:0], "shardId-"...), uint64(i), 12))
}

// ParseShardID returns the index of a shard id this log issued.
func ParseShardID(id string) (uint32, bool) {
	const p = "shardId-"
	if len(id) <= len(p) || len(id) > len(p)+12 || id[:len(p)] != p {
		return 0, false
	}
	v, err := strconv.ParseUint(id[len(p):], 10, 32)
	return uint32(v), err == nil
}
