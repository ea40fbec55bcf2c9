// Package parquet converts JSON records to Apache Parquet, as Firehose's
// record format conversion does, with a schema declared as an Arrow schema
// (from a table's columns) or derived from a Go struct (SchemaFromStruct).
// Files are written with github.com/parquet-go/parquet-go.
//
// JSON is mapped to columns the way Firehose's OpenX JSON SerDe does:
// object keys match column names case-insensitively (exact matches win),
// keys without a column are ignored, missing keys and JSON null are NULL
// (an error for a non-nullable column), a record may hold several
// concatenated JSON objects (one row each) but not a JSON array of them.
// Numbers and booleans are accepted in string columns (as their JSON text)
// and quoted numbers in numeric columns; a value that does not fit its
// column (a fraction or out-of-range value for an integer, a malformed
// timestamp, an object for a number, ...) fails the whole record, which the
// caller sends to its error output (Firehose: format-conversion-failed).
//
// Timestamps accept epoch numbers (seconds when below 1e11 in magnitude,
// else milliseconds; a fraction is allowed on seconds), RFC 3339 strings and
// "yyyy-MM-dd HH:mm:ss[.fffffffff]" (UTC). Dates accept "yyyy-MM-dd" or a
// day number since the epoch.
//
// Supported column types: bool, int8-64, uint8-64, float32/64, string,
// binary, date32, timestamp (s, ms, us, ns). Nested types (struct, list,
// map) and decimals are not supported yet: NewSchema rejects them.
//
// A Writer is not safe for concurrent use; Schema is immutable and may be
// shared.
package parquet
