package firehose

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	kzip "github.com/klauspost/compress/zip"
	"io"
)

// appendRecord appends one record's bytes in the given format.
func appendRecord(dst []byte, format string, appendNewline bool, data []byte) []byte {
	switch format {
	case FormatJSONLines:
		end := len(data)
		for end > 0 && (data[end-1] == '\n' || data[end-1] == '\r') {
			end--
		}
		return append(append(dst, data[:end]...), '\n')
	default:
		dst = append(dst, data...)
		if appendNewline {
			dst = append(dst, '\n')
		}
		return dst
	}
}

// compress returns body compressed in the given format. entryName names
// the single file of a ZIP archive.
func compress(format string, body []byte, entryName string) ([]byte, error) {
	var out bytes.Buffer
	switch format {
	case Uncompressed, "":
		return body, nil
	case GZIP:
		zw := gzip.NewWriter(&out)
		if _, err := zw.Write(body); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
	case ZIP:
		zw := kzip.NewWriter(&out)
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(w, flate.DefaultCompression)
		})
		f, err := zw.Create(entryName)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(body); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
	case Snappy:
		// The Snappy framing format (what Firehose's "Snappy" writes).
		sw := snappy.NewBufferedWriter(&out)
		if _, err := sw.Write(body); err != nil {
			return nil, err
		}
		if err := sw.Close(); err != nil {
			return nil, err
		}
	case HadoopSnappy:
		return appendHadoopSnappy(nil, body), nil
	default:
		return nil, fmt.Errorf("firehose: unknown compression %q", format)
	}
	return out.Bytes(), nil
}

// hadoopSnappyBlock is the uncompressed size of one Hadoop block, as
// Hadoop's SnappyCodec uses by default (io.compression.codec.snappy.buffersize).
const hadoopSnappyBlock = 256 << 10

// appendHadoopSnappy writes Hadoop's BlockCompressorStream framing: per
// block, the uncompressed length (4 bytes, big endian), then one chunk of
// compressed length (4 bytes, big endian) and raw Snappy data.
func appendHadoopSnappy(dst, body []byte) []byte {
	var hdr [4]byte
	for off := 0; off < len(body); off += hadoopSnappyBlock {
		block := body[off:min(off+hadoopSnappyBlock, len(body))]
		enc := snappy.Encode(nil, block)
		binary.BigEndian.PutUint32(hdr[:], uint32(len(block)))
		dst = append(dst, hdr[:]...)
		binary.BigEndian.PutUint32(hdr[:], uint32(len(enc)))
		dst = append(dst, hdr[:]...)
		dst = append(dst, enc...)
	}
	return dst
}

// DecodeHadoopSnappy reverses the HADOOP_SNAPPY framing (for readers and
// tests).
func DecodeHadoopSnappy(src []byte) ([]byte, error) {
	var out []byte
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, fmt.Errorf("firehose: hadoop-snappy: truncated block header")
		}
		want := int(binary.BigEndian.Uint32(src))
		src = src[4:]
		got := 0
		for got < want {
			if len(src) < 4 {
				return nil, fmt.Errorf("firehose: hadoop-snappy: truncated chunk header")
			}
			n := int(binary.BigEndian.Uint32(src))
			src = src[4:]
			if n > len(src) {
				return nil, fmt.Errorf("firehose: hadoop-snappy: truncated chunk")
			}
			dec, err := snappy.Decode(nil, src[:n])
			if err != nil {
				return nil, fmt.Errorf("firehose: hadoop-snappy: %w", err)
			}
			out = append(out, dec...)
			got += len(dec)
			src = src[n:]
		}
	}
	return out, nil
}
