package planner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/connectors/parquet"
	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// This file is the filesystem table: a bounded source over the files
// under 'path' and an exactly-once sink of rolling part files
// (connectors/file.Rolling), both with PARTITIONED BY columns as k=v
// directories, in sql/format's line formats or Parquet.

// fsTable is a filesystem table's layout: which physical columns the
// files hold and which are partition directories.
type fsTable struct {
	t       *catalog.Table
	path    string // a local path; "" for S3
	loc     catalog.FilesystemPath
	locErr  error
	format  string
	defName string      // partition.default-name
	fileL   *row.Layout // the columns in the files
	fileIdx []int       // each file column's index among the physical columns
	partIdx []int       // each partition column's index among the physical columns
	partT   []types.Type
}

func newFSTable(t *catalog.Table) *fsTable {
	ft := &fsTable{t: t, format: t.Options["format"], defName: catalog.DefaultPartitionName, fileL: catalog.FileLayout(t)}
	// Checked when the table was created; an error here is reported by
	// the source or sink that needs the path.
	ft.loc, ft.locErr = catalog.FilesystemLocation(catalog.NewValidator("", t))
	ft.path = ft.loc.Local
	if n, ok := t.Options["partition.default-name"]; ok {
		ft.defName = n
	}
	phys := 0 // index among the physical columns
	for _, c := range t.Columns {
		if c.Expr != nil {
			continue
		}
		if !slices.Contains(t.PartitionKeys, c.Name) {
			ft.fileIdx = append(ft.fileIdx, phys)
		}
		phys++
	}
	// Partition columns in PARTITIONED BY order (their directory order).
	for _, k := range t.PartitionKeys {
		phys := 0
		for _, c := range t.Columns {
			if c.Expr != nil {
				continue
			}
			if c.Name == k {
				ft.partIdx = append(ft.partIdx, phys)
				ft.partT = append(ft.partT, c.Type)
			}
			phys++
		}
	}
	return ft
}

// describe is the filesystem table for EXPLAIN.
func (ft *fsTable) describe() string {
	d := "filesystem, format " + ft.format
	if len(ft.t.PartitionKeys) > 0 {
		d += ", partitioned by [" + strings.Join(ft.t.PartitionKeys, ", ") + "]"
	}
	return d
}

// sourceDesc names the source connector for EXPLAIN.
func (ip *insertPlan) sourceDesc() string {
	if ip.src.table.Factory.Name() == "filesystem" {
		return newFSTable(ip.src.table).describe() + ", bounded"
	}
	return ip.src.table.Factory.Name()
}

// sinkDesc names the sink connector for EXPLAIN.
func (ip *insertPlan) sinkDesc() string {
	switch ip.sink.Factory.Name() {
	case "filesystem":
		ft := newFSTable(ip.sink)
		size, roll, _ := rollingPolicy(ip.sink)
		d := fmt.Sprintf("%s; exactly once, rolling at %s or %v", ft.describe(), sizeText(size), roll)
		if f := catalog.SuccessFile(ip.sink); f != "" {
			d += ", partitions committed with " + f
		}
		return d
	case "firehose":
		return firehoseDesc(ip)
	}
	return ip.sink.Factory.Name()
}

func sizeText(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// rollingPolicy reads the sink.rolling-policy options (validated by the
// catalog).
func rollingPolicy(t *catalog.Table) (size int64, rollover, check time.Duration) {
	size, rollover, check = catalog.DefaultRollingFileSize, catalog.DefaultRolloverInterval, catalog.DefaultRollingCheckInterval
	if v, ok := t.Options["sink.rolling-policy.file-size"]; ok {
		size, _ = catalog.ParseMemorySize(v)
	}
	if v, ok := t.Options["sink.rolling-policy.rollover-interval"]; ok {
		rollover, _ = catalog.ParseDuration(v)
	}
	if v, ok := t.Options["sink.rolling-policy.check-interval"]; ok {
		check, _ = catalog.ParseDuration(v)
	}
	return size, rollover, check
}

// Flink's partition path escaping (PartitionPathUtils): these characters
// and the control characters are written as %XX.
func escapePartition(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte("\"#%'*/:=?\\{[]^", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unescapePartition(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// partitionText is a partition value as its directory name has it.
func partitionText(t types.Type, v functions.Value) (string, bool) {
	if v.Null {
		return "", false
	}
	switch {
	case t.Kind == types.Boolean:
		return strconv.FormatBool(v.Bool()), true
	case t.Kind == types.Date:
		return string(row.AppendDate(nil, v.I)), true
	case t.IsCharString():
		s := v.S
		return s, s != ""
	}
	return strconv.FormatInt(v.I, 10), true
}

// parsePartition reads a directory's partition value as a column value.
func parsePartition(t types.Type, s string) (any, error) {
	switch {
	case t.IsCharString():
		return s, nil
	case t.Kind == types.Boolean:
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("'%s' is not a BOOLEAN", s)
	case t.Kind == types.Date:
		return row.ParseDate(s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("'%s' is not an integer", s)
	}
	lo, hi := typeRange(t)
	if float64(n) < lo || float64(n) > hi {
		return nil, fmt.Errorf("%d is out of range for %s", n, t)
	}
	return n, nil
}

// ---- sink ----

func (ip *insertPlan) buildFilesystemSink(s *engine.Stream[*row.Row]) error {
	t := ip.sink
	ft := newFSTable(t)
	size, roll, check := rollingPolicy(t)
	// The sink's rows have the sink's columns, all physical.
	proj, projected := ip.sinkL.Project(ft.fileIdx)
	var newPart func(w io.Writer) (file.PartWriter[*row.Row], error)
	if ft.format == "parquet" {
		ps, err := parquetSchemaOf(t, layoutNames(proj))
		if err != nil {
			return err
		}
		enc := newParquetJSON(proj)
		opts := parquet.Options{Compression: t.Options["parquet.compression"], BlockSizeBytes: min(size, parquet.DefaultBlockSizeBytes)}
		newPart = func(w io.Writer) (file.PartWriter[*row.Row], error) {
			pw, err := parquet.NewWriter(w, ps, opts)
			if err != nil {
				return nil, err
			}
			return &parquetPart{w: pw, enc: enc, proj: projected}, nil
		}
	} else {
		codec, err := format.New(ft.format, t.Options, "", proj)
		if err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
		newPart = func(w io.Writer) (file.PartWriter[*row.Row], error) {
			return &linePart{w: w, codec: codec, proj: projected}, nil
		}
	}
	var bucket func(r *row.Row) (string, error)
	if len(ft.partIdx) > 0 {
		bucket = func(r *row.Row) (string, error) {
			var b strings.Builder
			for k, i := range ft.partIdx {
				if k > 0 {
					b.WriteByte('/')
				}
				b.WriteString(escapePartition(t.PartitionKeys[k]))
				b.WriteByte('=')
				if v, ok := partitionText(ft.partT[k], functions.Read(r, i)); ok {
					b.WriteString(escapePartition(v))
				} else {
					b.WriteString(escapePartition(ft.defName))
				}
			}
			return b.String(), nil
		}
	}
	store, err := ft.partStore()
	if err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	k, err := file.RollingTo(store, file.RollingOptions[*row.Row]{NewPart: newPart, Bucket: bucket,
		FileSize: size, RolloverInterval: roll, CheckInterval: check, SuccessFile: catalog.SuccessFile(t)})
	if err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	engine.SinkTo(s, ip.op(t.Name), k)
	return nil
}

// linePart writes one record a line in a sql/format codec.
type linePart struct {
	w     io.Writer
	codec format.Codec
	proj  *row.Projection
	fr    *row.Row
	buf   []byte
}

func (p *linePart) Write(r *row.Row) error {
	p.fr = p.proj.Apply(r, p.fr)
	b, err := p.codec.Encode(p.buf[:0], p.fr)
	if err != nil {
		return err
	}
	p.buf = append(b, '\n')
	_, err = p.w.Write(p.buf)
	return err
}

func (p *linePart) Close() error { return nil }

// parquetPart writes rows through connectors/parquet, in batches.
type parquetPart struct {
	w     *parquet.Writer
	enc   *parquetJSON
	proj  *row.Projection
	fr    *row.Row
	batch [][]byte
	buf   []byte
}

const parquetBatch = 512

func (p *parquetPart) Write(r *row.Row) error {
	p.fr = p.proj.Apply(r, p.fr)
	start := len(p.buf)
	p.buf = p.enc.append(p.buf, p.fr)
	p.batch = append(p.batch, p.buf[start:len(p.buf):len(p.buf)])
	if len(p.batch) >= parquetBatch {
		return p.flush()
	}
	return nil
}

func (p *parquetPart) flush() error {
	if len(p.batch) == 0 {
		return nil
	}
	var convErr error
	_, err := p.w.WriteJSON(p.batch, func(i int, err error) {
		if convErr == nil {
			convErr = fmt.Errorf("row %s: %w", p.batch[i], err)
		}
	})
	p.batch, p.buf = p.batch[:0], p.buf[:0]
	if err != nil {
		return err
	}
	return convErr
}

func (p *parquetPart) Close() error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.w.Close()
}

// parquetSchemaOf is the Parquet schema of the table's named columns.
func parquetSchemaOf(t *catalog.Table, names []string) (*parquet.Schema, error) {
	cols, err := catalog.ParquetColumns(catalog.NewValidator("", t), names)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	as, err := parquet.SchemaFromColumns(cols)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	return parquet.NewSchema(as)
}

// parquetJSON writes rows of one layout as the JSON connectors/parquet
// converts: timestamps in RFC 3339 (UTC), dates yyyy-MM-dd, the rest as
// sql/row's JSON.
type parquetJSON struct {
	keys [][]byte // each field's quoted name and ':'
}

func newParquetJSON(l *row.Layout) *parquetJSON {
	pj := &parquetJSON{}
	for i := range l.Len() {
		name, _ := json.Marshal(l.Name(i)) // a string always marshals
		pj.keys = append(pj.keys, append(name, ':'))
	}
	return pj
}

func (pj *parquetJSON) append(dst []byte, r *row.Row) []byte {
	dst = append(dst, '{')
	for i := range r.Len() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, pj.keys[i]...)
		t := r.L.Type(i)
		switch {
		case r.IsNull(i):
			dst = append(dst, "null"...)
		case t.Kind == types.Timestamp || t.Kind == types.TimestampLTZ:
			dst = append(dst, '"')
			dst = r.Timestamp(i).Time().UTC().AppendFormat(dst, time.RFC3339Nano)
			dst = append(dst, '"')
		case t.Kind == types.Float || t.Kind == types.Double:
			f := r.Float(i)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				// JSON has no NaN: connectors/parquet takes a quoted number.
				dst = append(dst, '"')
				dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
				dst = append(dst, '"')
				continue
			}
			dst = row.AppendJSONValue(dst, t, r.Get(i))
		default:
			dst = row.AppendJSONValue(dst, t, r.Get(i))
		}
	}
	return append(dst, '}')
}

// ---- source ----

// fsSource reads the files under a filesystem table's path once.
type fsSource struct {
	ft   *fsTable
	root string // the directory files are relative to
	file string // a single file, when path names one
	// newRow makes the output row from a file row and the file's
	// partition values (and fills computed columns).
	newRow func(fileRow *row.Row, parts []any) (*row.Row, error)
	// errs is the table's error output; nil when the run has none (no
	// 'error.path', no data directory): a bad line fails the job.
	errs *errorFile
	// bucket is set for an s3:// path: root is then "s3://bucket/prefix"
	// for messages, and prefix the keys' ("" or ending in '/'); see
	// table_fs_s3.go.
	bucket   *s3.Bucket
	prefix   string
	mu       sync.Mutex // the subtasks' readers open concurrently
	resolved bool       // whether prefix names a directory or a file is known
}

// fsRec is what the filesystem source emits: a row, or a line that did
// not decode.
type fsRec struct {
	r   *row.Row
	bad *fsBadRecord
}

// list returns the data files: path itself if it is a file, else every
// file under it, recursively, without hidden files and directories (names
// starting with '.' or '_', as Flink skips), sorted.
func (s *fsSource) list(ctx context.Context) ([]string, error) {
	if s.file != "" {
		return []string{s.file}, nil
	}
	if s.bucket != nil {
		return s.listS3(ctx)
	}
	var files []string
	err := filepath.WalkDir(s.root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != s.root && (strings.HasPrefix(de.Name(), ".") || strings.HasPrefix(de.Name(), "_")) {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if de.Type().IsRegular() {
			rel, err := filepath.Rel(s.root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("table %s: list %s: %w", s.ft.t.Name, s.root, err)
	}
	slices.Sort(files)
	return files, nil
}

// partitions are the partition values of a file from its k=v
// directories.
func (s *fsSource) partitions(rel string) ([]any, error) {
	keys := s.ft.t.PartitionKeys
	if len(keys) == 0 {
		return nil, nil
	}
	vals := make([]any, len(keys))
	found := make([]bool, len(keys))
	dirs := strings.Split(rel, "/")
	for _, d := range dirs[:len(dirs)-1] {
		k, v, ok := strings.Cut(d, "=")
		if !ok {
			continue
		}
		i := slices.Index(keys, unescapePartition(k))
		if i < 0 {
			continue
		}
		found[i] = true
		v = unescapePartition(v)
		if v == s.ft.defName {
			continue // NULL
		}
		x, err := parsePartition(s.ft.partT[i], v)
		if err != nil {
			return nil, fmt.Errorf("table %s: file %s: partition column '%s': %w", s.ft.t.Name, rel, keys[i], err)
		}
		vals[i] = x
	}
	for i, ok := range found {
		if !ok {
			return nil, fmt.Errorf("table %s: file %s is not under a %s=<value> directory, but '%s' is a partition column", s.ft.t.Name, rel, keys[i], keys[i])
		}
	}
	return vals, nil
}

// fileReader reads the records of one file in order.
type fileReader interface {
	// Next is the next row; nil (with a nil error) for a record the
	// format skips; io.EOF at the end.
	Next() (*row.Row, error)
	Close() error
}

func (s *fsSource) open(ctx context.Context, rel string) (fileReader, error) {
	var f *os.File
	var err error
	if s.bucket != nil {
		f, err = s.download(ctx, rel)
	} else {
		f, err = os.Open(filepath.Join(s.root, filepath.FromSlash(rel)))
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", s.ft.t.Name, err)
	}
	if s.ft.format == "parquet" {
		r, err := newParquetReader(f, s.ft.fileL)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("table %s: file %s: %w", s.ft.t.Name, rel, err)
		}
		return r, nil
	}
	codec, err := format.New(s.ft.format, s.ft.t.Options, "", s.ft.fileL)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("table %s: %w", s.ft.t.Name, err)
	}
	lr := &lineReader{f: f, br: bufio.NewReaderSize(f, 1<<16), codec: codec, rel: rel, format: s.ft.format}
	if s.ft.format == "csv" {
		lr.quote = '"'
		if q, ok := s.ft.t.Options["csv.quote-character"]; ok && len(q) == 1 {
			lr.quote = q[0]
		}
		if s.ft.t.Options["csv.disable-quote-character"] == "true" {
			lr.quote = 0
		}
	}
	return lr, nil
}

// lineReader reads one record a line. A csv record whose quotes are not
// balanced at the end of a line goes on to the next (a quoted line
// break).
type lineReader struct {
	f      *os.File
	br     *bufio.Reader
	codec  format.Codec
	rel    string
	format string
	quote  byte
	line   int
	rec    []byte
}

func (r *lineReader) Next() (*row.Row, error) {
	r.rec = r.rec[:0]
	for {
		b, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			r.rec = append(r.rec, b...)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		r.rec = append(r.rec, b...)
		if errors.Is(err, io.EOF) && len(r.rec) == 0 {
			return nil, io.EOF
		}
		r.line++
		if r.quote != 0 && bytes.Count(r.rec, []byte{r.quote})%2 == 1 && err == nil {
			continue
		}
		break
	}
	rec := bytes.TrimSuffix(bytes.TrimSuffix(r.rec, []byte("\n")), []byte("\r"))
	if r.format != "raw" && len(bytes.TrimSpace(rec)) == 0 {
		return nil, nil
	}
	out, err := r.codec.Decode(rec)
	if err != nil {
		return nil, &fsBadRecord{file: r.rel, line: r.line, raw: bytes.Clone(rec), err: err}
	}
	return out, nil
}

// fsBadRecord is a line that did not decode: an error of lineReader.Next
// that the next record follows.
type fsBadRecord struct {
	file string // relative to the table's root
	line int    // the record's last line, 1-based
	raw  []byte
	err  error
}

func (e *fsBadRecord) Error() string {
	return fmt.Sprintf("file %s, line %d: %v", e.file, e.line, e.err)
}

func (e *fsBadRecord) Unwrap() error { return e.err }

func (r *lineReader) Close() error { return r.f.Close() }

// parquetReader reads a Parquet file's rows into the table's file
// columns, matched by name; a column the file lacks is NULL.
type parquetReader struct {
	f    *os.File
	r    *pq.Reader
	l    *row.Layout
	cols []pqCol // by the file's leaf column index
	buf  []pq.Row
	n, i int
}

type pqCol struct {
	field int // in the layout; -1 unused
	unit  time.Duration
}

func newParquetReader(f *os.File, l *row.Layout) (*parquetReader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := pq.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("not a Parquet file: %w", err)
	}
	schema := pf.Schema()
	pr := &parquetReader{f: f, l: l, r: pq.NewReader(pf), buf: make([]pq.Row, 256)}
	pr.cols = make([]pqCol, len(schema.Columns()))
	for i := range pr.cols {
		pr.cols[i].field = -1
	}
	for i := range l.Len() {
		name := l.Name(i)
		leaf, ok := schema.Lookup(name)
		if !ok {
			if !l.Type(i).IsNullable() {
				return nil, fmt.Errorf("column '%s' is NOT NULL but the file has no such column", name)
			}
			continue
		}
		if leaf.MaxRepetitionLevel > 0 {
			return nil, fmt.Errorf("column '%s' is repeated in the file: nested Parquet is not supported yet", name)
		}
		c := pqCol{field: i}
		if err := checkParquetType(l.Type(i), leaf.Node.Type(), &c); err != nil {
			return nil, fmt.Errorf("column '%s': %w", name, err)
		}
		pr.cols[leaf.ColumnIndex] = c
	}
	return pr, nil
}

func checkParquetType(t types.Type, pt pq.Type, c *pqCol) error {
	kind := pt.Kind()
	ok := false
	switch {
	case t.Kind == types.Boolean:
		ok = kind == pq.Boolean
	case t.Kind == types.TinyInt, t.Kind == types.SmallInt, t.Kind == types.Int, t.Kind == types.BigInt:
		ok = kind == pq.Int32 || kind == pq.Int64
	case t.Kind == types.Float, t.Kind == types.Double:
		ok = kind == pq.Float || kind == pq.Double
	case t.IsCharString():
		ok = kind == pq.ByteArray
	case t.Kind == types.Date:
		ok = kind == pq.Int32
	case t.Kind == types.Timestamp, t.Kind == types.TimestampLTZ:
		lt := pt.LogicalType()
		if kind == pq.Int64 && lt != nil && lt.Timestamp != nil {
			ok = true
			switch u := lt.Timestamp.Unit; {
			case u.Millis != nil:
				c.unit = time.Millisecond
			case u.Micros != nil:
				c.unit = time.Microsecond
			default:
				c.unit = time.Nanosecond
			}
		}
	}
	if !ok {
		return fmt.Errorf("the file's type %s does not read as %s", pt, t)
	}
	return nil
}

func (r *parquetReader) Next() (*row.Row, error) {
	if r.i == r.n {
		n, err := r.r.ReadRows(r.buf)
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, err
		}
		r.n, r.i = n, 0
	}
	pr := r.buf[r.i]
	r.i++
	out := r.l.New()
	for _, v := range pr {
		ci := v.Column()
		if ci < 0 || ci >= len(r.cols) || r.cols[ci].field < 0 || v.IsNull() {
			continue
		}
		c := r.cols[ci]
		t := r.l.Type(c.field)
		switch {
		case t.Kind == types.Boolean:
			out.SetBool(c.field, v.Boolean())
		case t.Kind == types.Float || t.Kind == types.Double:
			if v.Kind() == pq.Float {
				out.SetFloat(c.field, float64(v.Float()))
			} else {
				out.SetFloat(c.field, v.Double())
			}
		case t.IsCharString():
			out.SetStr(c.field, string(v.ByteArray()))
		case t.Kind == types.Timestamp || t.Kind == types.TimestampLTZ:
			ns := v.Int64() * int64(c.unit)
			out.SetTimestamp(c.field, row.TimestampFromNanos(ns).Truncate(t.Precision))
		default:
			var n int64
			if v.Kind() == pq.Int32 {
				n = int64(v.Int32())
			} else {
				n = v.Int64()
			}
			if t.Kind != types.Date {
				if lo, hi := typeRange(t); float64(n) < lo || float64(n) > hi {
					return nil, fmt.Errorf("column '%s': %d is out of range for %s", r.l.Name(c.field), n, t)
				}
			}
			out.SetInt(c.field, n)
		}
	}
	return out, nil
}

func (r *parquetReader) Close() error { return r.f.Close() }

// Open implements engine.Source: subtask s of p reads the files whose
// index in the sorted listing is s modulo p; a restored reader takes the
// files of every old subtask's position the same way, at any
// parallelism, each resumed after the records it had read.
func (s *fsSource) Open(ctx context.Context, info engine.SourceInfo) (engine.SourceReader[fsRec], error) {
	if s.bucket != nil {
		if err := s.resolveS3(ctx); err != nil {
			return nil, err
		}
	}
	done := map[string]int64{}
	var files []string
	if info.Restored == nil {
		all, err := s.list(ctx)
		if err != nil {
			return nil, err
		}
		files = all
	} else {
		for _, p := range info.Restored {
			var m map[string]int64
			if err := json.Unmarshal(p.Data, &m); err != nil {
				return nil, fmt.Errorf("table %s: corrupt source position: %w", s.ft.t.Name, err)
			}
			for f, n := range m {
				done[f] = n
				files = append(files, f)
			}
		}
		slices.Sort(files)
		files = slices.Compact(files)
	}
	r := &fsReader{s: s, done: map[string]int64{}}
	for i, f := range files {
		if i%info.Parallelism == info.Subtask {
			r.mine = append(r.mine, f)
			r.done[f] = done[f]
		}
	}
	return r, nil
}

type fsReader struct {
	s     *fsSource
	mine  []string
	done  map[string]int64 // records read per file (all of a finished file)
	cur   int
	fr    fileReader
	parts []any
}

func (r *fsReader) Read(ctx context.Context, out *engine.SourceOutput[fsRec]) error {
	for n := 0; n < 1024; n++ {
		if r.fr == nil {
			if r.cur == len(r.mine) {
				return io.EOF
			}
			rel := r.mine[r.cur]
			parts, err := r.s.partitions(rel)
			if err != nil {
				return err
			}
			fr, err := r.s.open(ctx, rel)
			if err != nil {
				return err
			}
			// Skip what a restored position read already.
			for k := int64(0); k < r.done[rel]; k++ {
				if _, err := fr.Next(); err != nil && !r.toErrors(err) {
					fr.Close()
					if errors.Is(err, io.EOF) {
						return fmt.Errorf("table %s: file %s has fewer records than the checkpoint read (%d): it changed", r.s.ft.t.Name, rel, r.done[rel])
					}
					return fmt.Errorf("table %s: %w", r.s.ft.t.Name, err)
				}
			}
			r.fr, r.parts = fr, parts
		}
		rel := r.mine[r.cur]
		fileRow, err := r.fr.Next()
		if errors.Is(err, io.EOF) {
			if err := r.fr.Close(); err != nil {
				return fmt.Errorf("table %s: %w", r.s.ft.t.Name, err)
			}
			r.fr = nil
			r.cur++
			continue
		}
		if err != nil && !r.toErrors(err) {
			return fmt.Errorf("table %s: %w", r.s.ft.t.Name, err)
		}
		r.done[rel]++
		if err != nil {
			var bad *fsBadRecord
			errors.As(err, &bad)
			out.Collect(fsRec{bad: bad})
			continue
		}
		if fileRow == nil {
			continue // skipped by the format (ignore-parse-errors)
		}
		o, err := r.s.newRow(fileRow, r.parts)
		if err != nil {
			return fmt.Errorf("table %s: file %s: %w", r.s.ft.t.Name, rel, err)
		}
		out.Collect(fsRec{r: o})
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

// toErrors reports whether err is a record that goes to the table's error
// output (a line that did not decode, with an error output configured)
// rather than failing the job.
func (r *fsReader) toErrors(err error) bool {
	var bad *fsBadRecord
	return r.s.errs != nil && errors.As(err, &bad)
}

// SnapshotPosition implements engine.CheckpointedReader: the records
// read of each of the reader's files.
func (r *fsReader) SnapshotPosition() ([]byte, error) { return json.Marshal(r.done) }

func (r *fsReader) Close() error {
	if r.fr != nil {
		err := r.fr.Close()
		r.fr = nil
		return err
	}
	return nil
}

// buildFilesystemSource is the bounded filesystem source with the
// table's partition and computed columns and watermarks.
func (ip *insertPlan) buildFilesystemSource(j *engine.Job, o RunOptions) (*engine.Stream[*row.Row], error) {
	t := ip.src.table
	ft := newFSTable(t)
	src := &fsSource{ft: ft}
	if _, ok := t.Options["error.path"]; ok || o.DataDir != "" {
		edir, err := errorDir(t, o)
		if err != nil {
			return nil, err
		}
		src.errs = o.res.errorFile(edir)
	}
	isDir := true
	switch {
	case ft.locErr != nil:
		return nil, fmt.Errorf("table %s: %w", t.Name, ft.locErr)
	case ft.loc.S3 != nil:
		// Listed when the readers open (the bucket is contacted then).
		if err := src.useS3(ft.loc); err != nil {
			return nil, fmt.Errorf("table %s: %w", t.Name, err)
		}
	default:
		st, err := os.Stat(ft.path)
		if err != nil {
			return nil, fmt.Errorf("table %s: option 'path': %w", t.Name, err)
		}
		isDir = st.IsDir()
		src.root = ft.path
		if !isDir {
			src.root, src.file = filepath.Dir(ft.path), filepath.Base(ft.path)
		}
	}
	if !isDir && len(t.PartitionKeys) > 0 {
		return nil, fmt.Errorf("table %s: option 'path' names a file, but a partitioned table reads a directory", t.Name)
	}
	if ft.format != "parquet" {
		if _, err := format.New(ft.format, t.Options, "", ft.fileL); err != nil {
			return nil, fmt.Errorf("table %s: %w", t.Name, err)
		}
	}
	layout := ip.src.layout
	comp := ip.src.computed
	src.newRow = func(fr *row.Row, parts []any) (*row.Row, error) {
		r := layout.New()
		for k, i := range ft.fileIdx {
			functions.Write(r, i, functions.Read(fr, k))
		}
		for k, i := range ft.partIdx {
			if err := r.Set(i, parts[k]); err != nil {
				return nil, err
			}
		}
		f := comp.get()
		err := f(r)
		comp.put(f)
		if err != nil {
			return nil, fmt.Errorf("computed column: %w", err)
		}
		return r, nil
	}
	name := ip.op(t.Name)
	raw := engine.SourceOf(j, name, src, sourceWatermarks(ip, func(k fsRec) *row.Row { return k.r }))
	return engine.Transform(raw, name+"/decode", func() engine.OneInputOperator[fsRec, *row.Row] {
		return &fsDecodeOp{table: t.Name, root: src.root, errs: src.errs}
	}), nil
}

// fsDecodeOp passes the rows on and writes the lines that did not decode
// to the table's error output, counting them as the shardlog tables'
// decode operator does (shardconn.DecodeErrorCounter), which the run's
// progress line shows as the table's errors.
type fsDecodeOp struct {
	table, root string
	errs        *errorFile
	out         *engine.Collector[*row.Row]
	ctr         *engine.Counter
}

func (o *fsDecodeOp) Open(ctx *engine.OperatorContext[*row.Row]) error {
	o.out = ctx.Output()
	o.ctr = ctx.Counter(shardconn.DecodeErrorCounter)
	return nil
}

func (o *fsDecodeOp) ProcessBatch(b []engine.Record[fsRec]) error {
	for i := range b {
		k := &b[i].Value
		if k.bad != nil {
			o.ctr.Inc()
			if err := o.errs.write(fsErrorLine(o.table, o.root, k.bad)); err != nil {
				return err
			}
			continue
		}
		o.out.Collect(k.r, b[i].Time)
	}
	return nil
}

func (o *fsDecodeOp) Close() error { return nil }

// fsErrorLine is one line of a filesystem table's error output: the
// shardlog tables' fields (errorLine) with the file's path and the line
// instead of the log position.
func fsErrorLine(table, root string, e *fsBadRecord) []byte {
	raw, enc := rawField(e.raw)
	b, _ := json.Marshal(struct { // strings and ints always marshal
		Table       string `json:"table"`
		Reason      string `json:"reason"`
		Raw         string `json:"raw"`
		RawEncoding string `json:"raw_encoding"`
		File        string `json:"file"`
		Line        int    `json:"line"`
	}{table, e.err.Error(), raw, enc, filepath.Join(root, filepath.FromSlash(e.file)), e.line})
	return append(b, '\n')
}
