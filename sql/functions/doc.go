// Package functions holds Sluice SQL's built-in functions: a Registry
// from name to overloads, each of which infers its result type from the
// argument types (Flink's type inference and NULL semantics) and binds an
// evaluator over unboxed Values; CAST and TRY_CAST; and the aggregate
// functions with mergeable, serialisable accumulators.
//
// Resolution happens once, at planning time: Registry.Scalar takes the
// argument types (and literal values, so that regular expressions,
// date-time patterns and JSON paths are prepared once) and returns a
// Scalar with its Result type, the Params its arguments must be cast to
// (the planner inserts the implicit casts, using Cast) and its Eval. An
// Eval does no reflection and no type switching on the SQL type per call.
// Unknown names are an error that suggests the closest registered name;
// arguments that match no overload list the supported forms.
//
// Operators are registered under their SQL spelling (+, -, *, /, =, <>,
// <, <=, >, >=, AND, OR, NOT, IS [NOT] NULL/TRUE/FALSE, IS [NOT] DISTINCT
// FROM; ITEM is array[i] and map[key]) and resolve the
// same way: Flink's arithmetic types, datetime ± INTERVAL, three-valued
// logic.
//
// NULL semantics follow Flink: most functions are strict (any NULL
// argument gives NULL); COALESCE, IFNULL, IF, NULLIF and CONCAT_WS are
// not. Functions whose result can be NULL for non-NULL arguments (a
// failed parse, an index out of range, a DECIMAL overflow) have a
// nullable result type.
//
// Aggregates (Registry.Aggregate): COUNT, COUNT(*), SUM, AVG, MIN, MAX,
// FIRST_VALUE, LAST_VALUE, LISTAGG, each optionally DISTINCT. The caller
// evaluates FILTER (WHERE ...) and skips rejected rows. Accumulators merge
// (for HOP and CUMULATE slices) and serialise (for Pebble state); Add does
// not allocate for the fixed-width ones.
//
// COUNT, SUM and AVG also retract (Retractor), for GROUP BY over updating
// input.
//
// Not here yet: retraction for MIN, MAX, FIRST_VALUE, LAST_VALUE, LISTAGG
// and DISTINCT aggregates,
// CURRENT_TIMESTAMP and the other non-deterministic functions (they need
// the engine's clock), CURRENT_WATERMARK (the planner's), casts between
// nested types and between intervals and numbers, IN and BETWEEN (a
// planner rewrites them to comparisons).
package functions
