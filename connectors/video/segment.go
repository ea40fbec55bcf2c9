package video

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/durable"
)

// A stream's fragments live in segment files, appended to and fsynced one
// record per fragment (docs/video-format.md):
//
//	record  := length u32 | crc32c(payload) u32 | payload
//	payload := version u8 (1) | seq u64 | producer ns i64 | server ns i64 |
//	           duration ns i64 | head | tags | cluster
//	head, tags, cluster := length u32 | bytes
//
// All integers big-endian. head is the Segment's Info and Tracks elements,
// tags the producer's Tags elements since the previous cluster (may be
// empty), cluster the Cluster element, each as ebml-go wrote it.

const (
	recordHeader  = 8
	recordVersion = 1
	segExt        = ".seg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is one stored fragment's payload, decoded.
type record struct {
	seq                       uint64
	producer, server, durNano int64
	head, tags, cluster       []byte
}

func (r *record) encode() []byte {
	n := 1 + 8*4 + 4*3 + len(r.head) + len(r.tags) + len(r.cluster)
	b := make([]byte, recordHeader, recordHeader+n)
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, r.seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.producer))
	b = binary.BigEndian.AppendUint64(b, uint64(r.server))
	b = binary.BigEndian.AppendUint64(b, uint64(r.durNano))
	for _, part := range [][]byte{r.head, r.tags, r.cluster} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(part)))
		b = append(b, part...)
	}
	binary.BigEndian.PutUint32(b[0:4], uint32(n))
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(b[recordHeader:], castagnoli))
	return b
}

var errBadRecord = errors.New("video: damaged fragment record")

func decodeRecord(p []byte) (record, error) {
	var r record
	if len(p) < 1+32+12 || p[0] != recordVersion {
		return r, errBadRecord
	}
	r.seq = binary.BigEndian.Uint64(p[1:])
	r.producer = int64(binary.BigEndian.Uint64(p[9:]))
	r.server = int64(binary.BigEndian.Uint64(p[17:]))
	r.durNano = int64(binary.BigEndian.Uint64(p[25:]))
	p = p[33:]
	parts := [3][]byte{}
	for i := range parts {
		if len(p) < 4 {
			return r, errBadRecord
		}
		n := binary.BigEndian.Uint32(p)
		p = p[4:]
		if uint64(len(p)) < uint64(n) {
			return r, errBadRecord
		}
		parts[i] = p[:n:n]
		p = p[n:]
	}
	if len(p) != 0 {
		return r, errBadRecord
	}
	r.head, r.tags, r.cluster = parts[0], parts[1], parts[2]
	return r, nil
}

// segFile is one open segment file.
type segFile struct {
	id   uint64
	f    *os.File
	size int64
}

func segName(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016d%s", id, segExt))
}

// listSegments returns the ids of dir's segment files, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("video: list %s: %w", dir, err)
	}
	var ids []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segExt) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, segExt), 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// scanSegment reads every whole record of f, calling fn with each and its
// offset; it returns the end of the last whole record (a torn or damaged
// tail starts there).
func scanSegment(f *os.File, fn func(off int64, n int64, r record)) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("video: stat %s: %w", f.Name(), err)
	}
	size := st.Size()
	var off int64
	hdr := make([]byte, recordHeader)
	for off+recordHeader <= size {
		if _, err := f.ReadAt(hdr, off); err != nil {
			return off, fmt.Errorf("video: read %s: %w", f.Name(), err)
		}
		n := int64(binary.BigEndian.Uint32(hdr[0:4]))
		sum := binary.BigEndian.Uint32(hdr[4:8])
		if off+recordHeader+n > size {
			break
		}
		p := make([]byte, n)
		if _, err := f.ReadAt(p, off+recordHeader); err != nil && !errors.Is(err, io.EOF) {
			return off, fmt.Errorf("video: read %s: %w", f.Name(), err)
		}
		if crc32.Checksum(p, castagnoli) != sum {
			break
		}
		r, err := decodeRecord(p)
		if err != nil {
			break
		}
		fn(off, recordHeader+n, r)
		off += recordHeader + n
	}
	return off, nil
}

// createSegment creates segment id in dir, durably (the directory synced).
func createSegment(dir string, id uint64) (*segFile, error) {
	f, err := os.OpenFile(segName(dir, id), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("video: create segment: %w", err)
	}
	if err := durable.SyncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("video: create segment: %w", err)
	}
	return &segFile{id: id, f: f}, nil
}
