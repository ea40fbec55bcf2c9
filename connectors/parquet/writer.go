package parquet

import (
	"errors"
	"fmt"
	"io"
	"strings"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// Compression codecs, named as Firehose's ParquetSerDe names them.
const (
	Snappy       = "SNAPPY"
	Gzip         = "GZIP"
	Uncompressed = "UNCOMPRESSED"
)

// Options configure a Writer. The zero value gives Firehose's ParquetSerDe
// defaults.
type Options struct {
	// Compression is SNAPPY (default), GZIP or UNCOMPRESSED.
	Compression string `json:"compression,omitempty"`
	// DisableDictionary turns off dictionary encoding (on by default, as
	// Firehose's EnableDictionaryCompression).
	DisableDictionary bool `json:"disable_dictionary,omitempty"`
	// BlockSizeBytes is the target row-group size in uncompressed bytes
	// (default 256 MiB, minimum 64 MiB in Firehose; any positive value is
	// accepted here so that tests can produce several row groups).
	BlockSizeBytes int64 `json:"block_size_bytes,omitempty"`
	// PageSizeBytes is the page buffer size (default 1 MiB; Firehose's
	// minimum is 64 KiB).
	PageSizeBytes int `json:"page_size_bytes,omitempty"`
}

// Defaults used when an Options field is zero.
const (
	DefaultBlockSizeBytes = 256 << 20
	DefaultPageSizeBytes  = 1 << 20
)

// Validate checks o.
func (o Options) Validate() error {
	switch strings.ToUpper(o.Compression) {
	case "", Snappy, Gzip, Uncompressed:
	default:
		return fmt.Errorf("parquet: unknown compression %q (want SNAPPY, GZIP or UNCOMPRESSED)", o.Compression)
	}
	if o.BlockSizeBytes < 0 || o.PageSizeBytes < 0 {
		return errors.New("parquet: negative block or page size")
	}
	return nil
}

func (o Options) codec() compress.Codec {
	switch strings.ToUpper(o.Compression) {
	case Gzip:
		return &pq.Gzip
	case Uncompressed:
		return &pq.Uncompressed
	}
	return &pq.Snappy
}

// ConversionError describes a record that does not fit the schema.
type ConversionError struct {
	Column string // empty when the record is not a JSON object
	Msg    string
}

func (e *ConversionError) Error() string {
	if e.Column == "" {
		return "parquet: " + e.Msg
	}
	return fmt.Sprintf("parquet: column %q: %s", e.Column, e.Msg)
}

// Writer converts JSON records into one Parquet file. It is not safe for
// concurrent use.
type Writer struct {
	schema  *Schema
	w       *pq.GenericWriter[any]
	opts    Options
	conv    converter
	rows    []pq.Row
	vals    []pq.Value
	pending int64 // uncompressed bytes since the last row group
	nrows   int64
	closed  bool
}

// NewWriter starts a Parquet file on out.
func NewWriter(out io.Writer, s *Schema, opts Options) (*Writer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.BlockSizeBytes == 0 {
		opts.BlockSizeBytes = DefaultBlockSizeBytes
	}
	if opts.PageSizeBytes == 0 {
		opts.PageSizeBytes = DefaultPageSizeBytes
	}
	w := &Writer{schema: s, opts: opts, conv: converter{s: s}}
	w.w = pq.NewGenericWriter[any](out, s.parquetSchema(!opts.DisableDictionary),
		pq.Compression(opts.codec()),
		pq.PageBufferSize(opts.PageSizeBytes),
		pq.CreatedBy("sluice", "0", ""),
	)
	return w, nil
}

// Rows returns the number of rows written so far.
func (w *Writer) Rows() int64 { return w.nrows }

// WriteJSON converts and writes records. A record that does not fit the
// schema writes no row and is reported to onError with its index and a
// *ConversionError; the other records are written. The returned error is
// an I/O or encoding error, after which the Writer is unusable.
//
// The record slices are only read during the call.
func (w *Writer) WriteJSON(records [][]byte, onError func(i int, err error)) (rows int, err error) {
	if w.closed {
		return 0, errors.New("parquet: writer is closed")
	}
	ncol := len(w.schema.cols)
	w.rows, w.vals = w.rows[:0], w.vals[:0]
	for i, rec := range records {
		vmark := len(w.vals)
		n, size, cerr := w.conv.appendRows(&w.vals, rec)
		if cerr != nil {
			w.vals = w.vals[:vmark]
			if onError != nil {
				onError(i, cerr)
			}
			continue
		}
		for r := 0; r < n; r++ {
			start := vmark + r*ncol
			w.rows = append(w.rows, w.vals[start:start+ncol:start+ncol])
		}
		w.pending += size
		// Row slices alias w.vals: write them before vals can move.
		if len(w.vals)+ncol*64 > cap(w.vals) || w.pending >= w.opts.BlockSizeBytes {
			if err := w.writeRows(); err != nil {
				return rows, err
			}
		}
		rows += n
	}
	return rows, w.writeRows()
}

func (w *Writer) writeRows() error {
	if len(w.rows) > 0 {
		if _, err := w.w.WriteRows(w.rows); err != nil {
			return fmt.Errorf("parquet: write rows: %w", err)
		}
		w.nrows += int64(len(w.rows))
	}
	w.rows, w.vals = w.rows[:0], w.vals[:0]
	if cap(w.vals) == 0 {
		w.vals = make([]pq.Value, 0, 1024*len(w.schema.cols))
	}
	if w.pending >= w.opts.BlockSizeBytes {
		w.pending = 0
		if err := w.w.Flush(); err != nil {
			return fmt.Errorf("parquet: flush row group: %w", err)
		}
	}
	return nil
}

// Close finishes the file (footer included). It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("parquet: close: %w", err)
	}
	return nil
}
