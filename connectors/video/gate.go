package video

import (
	"fmt"

	"github.com/at-wat/ebml-go"
)

// gate follows the element headers of the bytes a FragmentReader passes to
// ebml-go and refuses a leaf element larger than its bound before ebml-go
// sees the header: ebml-go allocates a leaf's whole size up front, so a
// producer's forged size would otherwise be allocated. Every master is
// entered (a master's children follow its header), so the stream is read as
// a flat sequence of headers and leaf payloads. The IDs and which are
// masters are ebml-go's own table (ElementType.Bytes, DataType).
type gate struct {
	max  uint64 // a leaf's bound
	skip uint64 // payload bytes of the current leaf still to pass
	hdr  []byte // a header being read
}

// masters is the set of master element IDs (as big-endian integers with
// their marker bits).
var masters = func() map[uint64]bool {
	m := map[uint64]bool{}
	// ebml-go's element types are consecutive from ElementInvalid; the
	// first without a name ends them.
	for t := ebml.ElementInvalid + 1; t.String() != "unknown"; t++ {
		b := t.Bytes()
		if len(b) == 0 {
			continue
		}
		if t.DataType() == ebml.DataTypeMaster {
			var id uint64
			for _, c := range b {
				id = id<<8 | uint64(c)
			}
			m[id] = true
		}
	}
	return m
}()

// vintLen is the length of a variable-size integer by its first byte (0:
// invalid).
func vintLen(b byte) int {
	for i := 0; i < 8; i++ {
		if b&(0x80>>i) != 0 {
			return i + 1
		}
	}
	return 0
}

// feed checks p, the next bytes of the stream.
func (g *gate) feed(p []byte) error {
	for len(p) > 0 {
		if g.skip > 0 {
			n := uint64(len(p))
			if n > g.skip {
				n = g.skip
			}
			g.skip -= n
			p = p[n:]
			continue
		}
		g.hdr = append(g.hdr, p[0])
		p = p[1:]
		idLen := vintLen(g.hdr[0])
		if idLen == 0 || idLen > 4 {
			return fmt.Errorf("%w: an element ID starting 0x%02x", ErrNotMatroska, g.hdr[0])
		}
		if len(g.hdr) <= idLen {
			continue
		}
		sizeLen := vintLen(g.hdr[idLen])
		if sizeLen == 0 {
			return fmt.Errorf("%w: an element size starting 0x00", ErrNotMatroska)
		}
		if len(g.hdr) < idLen+sizeLen {
			continue
		}
		var id uint64
		for _, c := range g.hdr[:idLen] {
			id = id<<8 | uint64(c)
		}
		sb := g.hdr[idLen:]
		size := uint64(sb[0] & (0xff >> sizeLen))
		allOnes := size == uint64(0xff>>sizeLen)
		for _, c := range sb[1:] {
			size = size<<8 | uint64(c)
			allOnes = allOnes && c == 0xff
		}
		g.hdr = g.hdr[:0]
		if masters[id] {
			continue // its children follow
		}
		if allOnes {
			return fmt.Errorf("%w: a non-master element 0x%x of unknown size", ErrNotMatroska, id)
		}
		if size > g.max {
			return fmt.Errorf("%w: an element 0x%x of %d bytes", ErrFragmentTooLarge, id, size)
		}
		g.skip = size
	}
	return nil
}
