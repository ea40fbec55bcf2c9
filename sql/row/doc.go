// Package row is the runtime form of SQL values: a Layout per schema,
// computed once at planning time, and Rows that keep fixed-width fields
// unboxed in one []uint64 (with the null bitmap), strings and bytes in a
// []string, and only wide DECIMALs and nested ARRAY, MAP, MULTISET and ROW
// values boxed. Each row carries its changelog Kind (+I, -U, +U, -D).
//
// Around the layout:
//   - Decimal (exact, HALF_UP, int64 fast path) and Timestamp (millis and
//     nanos of the milli, Flink's TimestampData);
//   - Codec, the compact encoding of a row for state and exchanges
//     (a state.Codec[*Row]);
//   - KeyEncoder, an order-preserving, deterministic encoding of chosen
//     fields: the engine key of GROUP BY and windows and the prefix of their
//     Pebble state;
//   - Row.String, Flink's print-connector form (+I[1, abc, 2024-01-01T00:00]);
//   - FromJSON and AppendJSON, Flink's json format, with errors that name
//     the field (a.b[2].c).
//
// Layouts, Codecs and KeyEncoders are immutable and safe for concurrent
// use; a Row is owned by one goroutine at a time.
package row
