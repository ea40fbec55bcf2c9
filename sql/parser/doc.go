// Package parser reads Sluice's SQL dialect — Flink SQL, with the forms of
// Kinesis Data Analytics' SQL — into the trees of package ast.
//
// Parse reads a script of statements separated by semicolons (empty
// statements are skipped). ParseStatement, ParseQuery, ParseExpr and
// ParseType read one piece, for the shell, tests and later stages. Every
// error is a *diag.Error (several come as a diag.ErrorList): a message, the
// span it is about, and, for a syntax error, what would have been accepted
// there, rendered as
//
//	line 3, column 17: unexpected ")", expected an expression
//	  SELECT a, b + ) FROM t
//	                ^
//
// After an error Parse goes on from the next semicolon, so one run reports
// the errors of several statements (at most ten).
//
// # What it reads
//
//   - DDL: CREATE [OR REPLACE] [TEMPORARY] TABLE with physical, computed
//     (c AS expr) and metadata (c T METADATA [FROM 'key'] [VIRTUAL]) columns,
//     WATERMARK FOR, PRIMARY KEY ... NOT ENFORCED, COMMENT, PARTITIONED BY,
//     WITH (...), LIKE ... (INCLUDING|EXCLUDING|OVERWRITING ...) and AS
//     SELECT; CREATE VIEW, FUNCTION, CATALOG, DATABASE; DROP; ALTER TABLE
//     (SET, RESET, RENAME, ADD, MODIFY, DROP) and ALTER VIEW.
//   - SET, RESET, INSERT INTO|OVERWRITE, EXECUTE STATEMENT SET BEGIN ... END
//     and the SQL client's BEGIN STATEMENT SET; ... END;, EXECUTE INSERT,
//     EXPLAIN, SHOW, DESCRIBE, USE, STOP JOB, ADD/REMOVE JAR.
//   - Kinesis Data Analytics: CREATE OR REPLACE STREAM and PUMP, SELECT
//     STREAM, CURSOR(...), STEP(x BY interval), (a - b) SECOND,
//     WINDOWED BY STAGGER (...), double-quoted names.
//   - Queries: WITH, SELECT [ALL|DISTINCT] with hints, FROM with joins,
//     subqueries, LATERAL, UNNEST, TABLE(fn(...)) with positional and named
//     arguments, TABLE t [PARTITION BY ...] and DESCRIPTOR(...) arguments,
//     FOR SYSTEM_TIME AS OF, MATCH_RECOGNIZE; WHERE, GROUP BY (GROUPING SETS,
//     ROLLUP, CUBE), HAVING, WINDOW, set operations, VALUES, ORDER BY, LIMIT,
//     OFFSET, FETCH.
//   - Expressions with SQL's precedence, the special forms (CASE, CAST,
//     TRY_CAST, EXTRACT, FLOOR/CEIL ... TO, POSITION, TRIM, SUBSTRING,
//     OVERLAY, the JSON functions), calls with DISTINCT, FILTER, OVER,
//     WITHIN GROUP and null treatment, literals of every type, and types
//     from BOOLEAN to ROW<...> and RAW(...).
//
// # Limits
//
// Nesting deeper than MaxDepth (expressions, queries, types, patterns), or
// more than 20×MaxDepth operators in one chain, is an error rather than a
// stack overflow here or in a later stage that recurses over the tree.
//
// The functions here are safe for concurrent use; they share no state.
package parser
