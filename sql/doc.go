// Package sql is reserved for Sluice's SQL pipeline spec: a Flink SQL
// dialect (CREATE TABLE ... WITH connector options, INSERT INTO ... SELECT,
// windowing table functions, and the anomaly-detection table functions)
// planned onto the engine's operators.
//
// The value side exists: sql/types (Flink's logical types, cast rules,
// common types, DECIMAL derivation), sql/row (the unboxed row layout,
// RowKind, row codec, order-preserving keys, the print and JSON forms) and
// sql/functions (the built-in scalar functions, CAST/TRY_CAST and the
// aggregates). The parser and planner are not here yet. The pieces a
// planner will call already take SQL's shape: the window operators
// in package operators follow Flink's TUMBLE/HOP/SESSION/CUMULATE windowing
// table functions, operators/anomaly plans RANDOM_CUT_FOREST,
// RANDOM_CUT_FOREST_WITH_EXPLANATION and HOTSPOTS from a row schema and named
// parameters (PlanRandomCutForest, PlanHotspots), and firehose.ParseConfig
// reads a delivery stream's options the way a table's WITH clause will
// give them.
package sql
