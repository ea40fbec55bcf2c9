package shardconn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// positionsVersion is the version of a Source reader's checkpointed
// position. Layout (varints are unsigned LEB128, as encoding/binary):
//
//	byte     version (1)
//	varint   creation time of the stream, ms since the epoch
//	byte     flags: 1 = bounded source
//	varint   number of entries, then per entry, in shard order:
//	  varint shard index
//	  byte   flags: 1 = the shard has ended, 2 = a bound follows,
//	         4 = a sub-sequence number follows (version 2 only)
//	  varint offset where reading resumes (absent when ended)
//	  varint bound: offset where reading stops (if flag 2)
//	  varint sub-sequence number (if flag 4): how many user records of the
//	         KPL aggregate at the next offset were already emitted
//
// Offsets are record offsets within the shard: SequenceNumber.Pos of the
// AFTER_SEQUENCE_NUMBER position that resumes there. Version 2 is written
// only when some position lies inside an aggregate, so positions without
// one are byte for byte those of version 1.
const positionsVersion = 1

// positionsVersionSub adds sub-sequence numbers (flag 4).
const positionsVersionSub = 2

type posEntry struct {
	idx      uint32
	pos      uint64
	bound    uint64 // noBound: none
	sub      uint64 // user records of the aggregate after pos already emitted
	finished bool
}

func encodePositions(created int64, bounded bool, ents []posEntry) []byte {
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].idx < ents[j].idx })
	b := make([]byte, 0, 16+len(ents)*12)
	version := byte(positionsVersion)
	for _, e := range ents {
		if !e.finished && e.sub > 0 {
			version = positionsVersionSub
		}
	}
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(created))
	var flags byte
	if bounded {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(ents)))
	for _, e := range ents {
		b = binary.AppendUvarint(b, uint64(e.idx))
		var f byte
		if e.finished {
			f |= 1
		} else {
			if e.bound != noBound {
				f |= 2
			}
			if e.sub > 0 {
				f |= 4
			}
		}
		b = append(b, f)
		if !e.finished {
			b = binary.AppendUvarint(b, e.pos)
			if e.bound != noBound {
				b = binary.AppendUvarint(b, e.bound)
			}
			if e.sub > 0 {
				b = binary.AppendUvarint(b, e.sub)
			}
		}
	}
	return b
}

var errCorruptPosition = errors.New("shardconn: source: corrupt checkpointed position")

func decodePositions(b []byte) (created int64, bounded bool, ents []posEntry, err error) {
	if len(b) < 1 {
		return 0, false, nil, errCorruptPosition
	}
	version := b[0]
	if version != positionsVersion && version != positionsVersionSub {
		return 0, false, nil, fmt.Errorf("shardconn: source: checkpointed position format %d, this build reads %d and %d", b[0], positionsVersion, positionsVersionSub)
	}
	b = b[1:]
	uv := func() uint64 {
		if err != nil {
			return 0
		}
		v, n := binary.Uvarint(b)
		if n <= 0 {
			err = errCorruptPosition
			return 0
		}
		b = b[n:]
		return v
	}
	byt := func() byte {
		if err != nil || len(b) == 0 {
			err = errCorruptPosition
			return 0
		}
		v := b[0]
		b = b[1:]
		return v
	}
	created = int64(uv())
	flags := byt()
	bounded = flags&1 != 0
	n := uv()
	if err != nil {
		return 0, false, nil, err
	}
	if n > uint64(len(b)) {
		return 0, false, nil, errCorruptPosition
	}
	ents = make([]posEntry, 0, n)
	for i := uint64(0); i < n && err == nil; i++ {
		e := posEntry{bound: noBound}
		idx := uv()
		if idx > 1<<32-1 {
			err = errCorruptPosition
			break
		}
		e.idx = uint32(idx)
		f := byt()
		if f&1 != 0 {
			e.finished = true
		} else {
			e.pos = uv()
			if f&2 != 0 {
				e.bound = uv()
			}
			if f&4 != 0 {
				if version < positionsVersionSub {
					err = errCorruptPosition
					break
				}
				e.sub = uv()
			}
		}
		ents = append(ents, e)
	}
	if err == nil && len(b) != 0 {
		err = errCorruptPosition
	}
	if err != nil {
		return 0, false, nil, err
	}
	return created, bounded, ents, nil
}
