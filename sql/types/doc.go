// Package types is Sluice SQL's type system: Flink's logical types
// (BOOLEAN to BIGINT, FLOAT, DOUBLE, DECIMAL(p, s), CHAR, VARCHAR/STRING,
// BINARY, VARBINARY/BYTES, DATE, TIME(p), TIMESTAMP(p), TIMESTAMP_LTZ(p),
// the intervals, ARRAY, MAP, MULTISET, ROW) with nullability and time
// attributes, printed as Flink's DESCRIBE prints them; the implicit and
// explicit cast rules of Flink 1.15+ (CanImplicitCast, CheckCast with
// Flink's messages); the least-restrictive common type of CASE, COALESCE,
// UNION and comparisons (CommonType, ComparisonType); and the result
// types of arithmetic and of SUM and AVG, DECIMAL precision derivation
// included. Types are immutable values, safe to share.
package types
