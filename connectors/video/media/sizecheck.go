package media

import "fmt"

// masterIDs are the Matroska master elements (elements holding elements)
// that checkSizes descends into.
var masterIDs = map[uint64]bool{
	0x1A45DFA3: true, // EBML
	0x18538067: true, // Segment
	0x114D9B74: true, // SeekHead
	0x4DBB:     true, // Seek
	0x1549A966: true, // Info
	0x1654AE6B: true, // Tracks
	0xAE:       true, // TrackEntry
	0xE0:       true, // Video
	0xE1:       true, // Audio
	0xE2:       true, // TrackOperation
	0x55B0:     true, // Colour
	0x55D0:     true, // MasteringMetadata
	0x7670:     true, // Projection
	0x6D80:     true, // ContentEncodings
	0x6240:     true, // ContentEncoding
	0x1F43B675: true, // Cluster
	0xA0:       true, // BlockGroup
	0x75A1:     true, // BlockAdditions
	0xA6:       true, // BlockMore
	0x8E:       true, // Slices
	0x1C53BB6B: true, // Cues
	0xBB:       true, // CuePoint
	0xB7:       true, // CueTrackPositions
	0x1254C367: true, // Tags
	0x7373:     true, // Tag
	0x63C0:     true, // Targets
	0x67C8:     true, // SimpleTag
	0x1043A770: true, // Chapters
	0x1941A469: true, // Attachments
}

// checkSizes walks the EBML element tree of b and refuses an element whose
// declared size runs past its parent's end, before the decoder allocates
// what a size claims. An unknown size (all ones) is allowed on Segment and
// Cluster, which then reach their parent's end.
func checkSizes(b []byte) error {
	return checkLevel(b, 0, 0)
}

const maxDepth = 16

func checkLevel(b []byte, off, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("elements nested deeper than %d at byte %d", maxDepth, off)
	}
	for i := 0; i < len(b); {
		id, n, ok := readVint(b[i:], false)
		if !ok {
			return fmt.Errorf("bad element ID at byte %d", off+i)
		}
		size, m, ok := readVint(b[i+n:], true)
		if !ok {
			return fmt.Errorf("bad element size at byte %d", off+i+n)
		}
		start := i + n + m
		rest := uint64(len(b) - start)
		if size == unknownSize {
			if id != 0x18538067 && id != 0x1F43B675 {
				return fmt.Errorf("element 0x%X at byte %d of unknown size", id, off+i)
			}
			size = rest
		}
		if size > rest {
			return fmt.Errorf("element 0x%X at byte %d claims %d bytes, %d remain", id, off+i, size, rest)
		}
		end := start + int(size)
		if masterIDs[id] {
			if err := checkLevel(b[start:end], off+start, depth+1); err != nil {
				return err
			}
		}
		i = end
	}
	return nil
}

const unknownSize = ^uint64(0)

// readVint reads an EBML variable-length integer: an element ID (with its
// length marker kept) or a data size (marker removed; all ones is
// unknownSize).
func readVint(b []byte, isSize bool) (v uint64, n int, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 8 || len(b) < n || (!isSize && n > 4) {
		return 0, 0, false
	}
	v = uint64(b[0])
	if isSize {
		v &= uint64(0xFF >> n)
	}
	allOnes := v == uint64(0xFF>>n)
	for k := 1; k < n; k++ {
		v = v<<8 | uint64(b[k])
		allOnes = allOnes && b[k] == 0xFF
	}
	if isSize && allOnes {
		return unknownSize, n, true
	}
	return v, n, true
}
