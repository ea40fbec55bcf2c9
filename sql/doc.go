// Package sql is reserved for Sluice's SQL pipeline spec: a Flink SQL
// dialect (CREATE TABLE ... WITH connector options, INSERT INTO ... SELECT,
// windowing table functions, and the anomaly-detection table functions)
// planned onto the engine's operators.
//
// Nothing is implemented here yet, and no other package depends on it. The
// pieces a planner will call already take SQL's shape: the window operators
// in package operators follow Flink's TUMBLE/HOP/SESSION/CUMULATE windowing
// table functions, operators/anomaly plans RANDOM_CUT_FOREST,
// RANDOM_CUT_FOREST_WITH_EXPLANATION and HOTSPOTS from a row schema and named
// parameters (PlanRandomCutForest, PlanHotspots), and firehose.ParseConfig
// reads a delivery stream's options the way a table's WITH clause will
// give them.
package sql
