package shardlog

import (
	"math/bits"
	"strconv"
)

// SequenceNumber identifies a record within a stream. Its text form has the
// shape of Kinesis's: a 56-digit decimal integer, the decimal form of 47 hex
// digits laid out as the service's are (most significant first):
//
//	2                                 (1 hex digit)
//	the shard's creation, Unix s      (9)
//	the shard index's last hex digit  (1)
//	position in the shard             (16)
//	00                                (2)
//	the record's arrival, Unix s      (9)
//	the shard index                   (8)
//	2                                 (1)
//
// Every such number lies in [2·16⁴⁶, 3·16⁴⁶), so it has 56 digits and
// begins 49..73: string order and numeric order agree. Within a shard the
// creation time and index digit are fixed and the position is the most
// significant field that varies, so a shard's numbers increase with the
// position whatever the times; a child shard, created later, numbers above
// its parents. The position (Pos) and the shard index identify a record;
// the times are only shown (a number with other times names the same
// position).
//
// Position p is record offset p-1: position 0 is the shard's starting
// sequence number, which no record has, so that AFTER_SEQUENCE_NUMBER with
// it reads from the first record.
//
// Before this shape the log issued 46-digit numbers ("1" + 20-digit shard
// index + 25-digit position); ParseSequenceNumber still reads those, so
// positions that clients stored keep working.
type SequenceNumber struct {
	Shard uint32 // the shard's index (shardId-000000000007 is 7)
	Pos   uint64 // record offset + 1

	// Shown in the text form only (Unix seconds, the low 36 bits kept).
	Created uint64 // the shard's creation
	Time    uint64 // the record's arrival; the shard's creation when no record is meant
}

const (
	seqLen       = 56
	legacySeqLen = 46
	mask36       = 1<<36 - 1
	pow19        = 1e19 // the largest power of ten below 2⁶⁴
)

// seqForOffset is the sequence number of the record at offset off of sh,
// which arrived at ms (Unix ms).
func seqForOffset(sh *shard, off uint64, ms int64) SequenceNumber {
	return SequenceNumber{Shard: sh.idx, Pos: off + 1, Created: unixSec(sh.created.UnixMilli()), Time: unixSec(ms)}
}

// seqAt is the sequence number of position pos of sh with no record's time
// known: the shard's creation stands for it.
func seqAt(sh *shard, pos uint64) SequenceNumber {
	c := unixSec(sh.created.UnixMilli())
	return SequenceNumber{Shard: sh.idx, Pos: pos, Created: c, Time: c}
}

func unixSec(ms int64) uint64 {
	if ms < 0 {
		return 0
	}
	return uint64(ms / 1000)
}

// Offset is the storage offset of the record with this sequence number.
func (s SequenceNumber) Offset() uint64 {
	if s.Pos == 0 {
		return 0
	}
	return s.Pos - 1
}

// limbs is the number as three 64-bit limbs, least significant first.
func (s SequenceNumber) limbs() (lo, mid, hi uint64) {
	t, c := s.Time&mask36, s.Created&mask36
	lo = 2 | uint64(s.Shard)<<4 | t<<36
	mid = t>>28 | s.Pos<<16
	hi = s.Pos>>48 | uint64(s.Shard&0xf)<<16 | c<<20 | 2<<56
	return lo, mid, hi
}

// AppendText appends the decimal form to dst.
func (s SequenceNumber) AppendText(dst []byte) []byte {
	lo, mid, hi := s.limbs()
	// The number is below 3·16⁴⁶ < 10⁵⁶: 18 + 19 + 19 digits. hi is below
	// 10¹⁹, so the first division needs two 128-by-64 steps, the second
	// (of a two-limb quotient) one.
	qmid, r := bits.Div64(hi, mid, pow19)
	qlo, r0 := bits.Div64(r, lo, pow19)
	top, r1 := bits.Div64(qmid, qlo, pow19) // qmid < 10¹⁹: the quotient is below 10³⁷
	var b [1 + seqLen]byte                  // top has 18 digits; written as 19, its leading 0 is dropped
	put19(b[:19], top)
	put19(b[19:38], r1)
	put19(b[38:], r0)
	return append(dst, b[1:]...)
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// put19 writes v (below 10¹⁹) as 19 digits, zero-padded, into b[:19].
func put19(b []byte, v uint64) {
	_ = b[18]
	for i := 17; i >= 1; i -= 2 {
		q := v / 100
		d := (v - q*100) * 2
		b[i], b[i+1] = digitPairs[d], digitPairs[d+1]
		v = q
	}
	b[0] = byte('0' + v)
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

// ParseSequenceNumber parses the decimal form (or the 46-digit form of
// earlier versions). ok is false for anything this log did not issue.
func ParseSequenceNumber(s string) (SequenceNumber, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return SequenceNumber{}, false
		}
	}
	switch len(s) {
	case seqLen:
		return parseSeq56(s)
	case legacySeqLen:
		return parseLegacySeq(s)
	}
	return SequenceNumber{}, false
}

func parseSeq56(s string) (SequenceNumber, bool) {
	c2, err2 := strconv.ParseUint(s[:18], 10, 64)
	c1, err1 := strconv.ParseUint(s[18:37], 10, 64)
	c0, err0 := strconv.ParseUint(s[37:], 10, 64)
	if err2 != nil || err1 != nil || err0 != nil {
		return SequenceNumber{}, false
	}
	// (c2·10¹⁹ + c1)·10¹⁹ + c0 in three limbs; fits, as c2 < 10¹⁸.
	h, l := bits.Mul64(c2, pow19)
	l, carry := bits.Add64(l, c1, 0)
	h += carry
	// (h, l) · 10¹⁹
	m1, lo := bits.Mul64(l, pow19)
	h2, m2 := bits.Mul64(h, pow19)
	mid, carry := bits.Add64(m1, m2, 0)
	hi := h2 + carry
	lo, carry = bits.Add64(lo, c0, 0)
	mid, carry = bits.Add64(mid, 0, carry)
	hi += carry
	if hi>>56 != 2 || lo&0xf != 2 || mid>>8&0xff != 0 {
		return SequenceNumber{}, false
	}
	seq := SequenceNumber{
		Shard:   uint32(lo >> 4),
		Time:    lo>>36 | (mid&0xff)<<28,
		Pos:     mid>>16 | (hi&0xffff)<<48,
		Created: hi >> 20 & mask36,
	}
	if uint64(seq.Shard&0xf) != hi>>16&0xf {
		return SequenceNumber{}, false
	}
	return seq, true
}

func parseLegacySeq(s string) (SequenceNumber, bool) {
	if s[0] != '1' {
		return SequenceNumber{}, false
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
