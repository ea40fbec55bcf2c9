package ast

import (
	"slices"
	"unicode"
)

// reservedWords are the words Flink's parser reserves: Calcite's reserved
// keywords (the SQL standard's and Calcite's own, such as STREAM and
// MATCH_RECOGNIZE) less the ones Flink makes non-reserved, plus Flink's own
// reserved words (STRING, BYTES, WATERMARK, COMMENT, TABLES, ...). A reserved
// word is a name only when quoted: `value`, `count`, `timestamp`, `user`.
// Keeping the same set as Flink means a script that parses here parses there
// and the other way round.
var reservedWords = []string{
	"ABS", "ALL", "ALLOCATE", "ALLOW", "ALTER", "AND", "ANY", "ARE", "ARRAY",
	"ARRAY_MAX_CARDINALITY", "AS", "ASENSITIVE", "ASYMMETRIC", "AT", "ATOMIC",
	"AUTHORIZATION", "AVG", "BEGIN", "BEGIN_FRAME", "BEGIN_PARTITION", "BETWEEN",
	"BIGINT", "BINARY", "BIT", "BLOB", "BOOLEAN", "BOTH", "BUCKETS", "BY", "BYTES",
	"CALL", "CALLED", "CARDINALITY", "CASCADED", "CASE", "CAST", "CATALOGS", "CEIL",
	"CEILING", "CHAR", "CHARACTER", "CHARACTER_LENGTH", "CHAR_LENGTH", "CHECK",
	"CLASSIFIER", "CLOB", "CLOSE", "COALESCE", "COLLATE", "COLLECT", "COLUMN",
	"COMMENT", "COMMIT", "CONDITION", "CONNECT", "CONNECTIONS", "CONSTRAINT",
	"CONTAINS", "CONTINUOUS", "CONVERT", "CORR", "CORRESPONDING", "COUNT",
	"COVAR_POP", "COVAR_SAMP", "CREATE", "CROSS", "CUBE", "CUME_DIST", "CURRENT",
	"CURRENT_CATALOG", "CURRENT_DATE", "CURRENT_DEFAULT_TRANSFORM_GROUP",
	"CURRENT_PATH", "CURRENT_ROLE", "CURRENT_ROW", "CURRENT_SCHEMA", "CURRENT_TIME",
	"CURRENT_TIMESTAMP", "CURRENT_TRANSFORM_GROUP_FOR_TYPE", "CURRENT_USER",
	"CURSOR", "CYCLE", "DATABASES", "DATE", "DAY", "DEALLOCATE", "DEC", "DECIMAL",
	"DECLARE", "DEFAULT", "DEFINE", "DELETE", "DENSE_RANK", "DEREF", "DESCRIBE",
	"DETERMINISTIC", "DISALLOW", "DISCONNECT", "DISTINCT", "DISTRIBUTED",
	"DISTRIBUTION", "DOUBLE", "DROP", "DYNAMIC", "EACH", "ELEMENT", "ELSE", "EMPTY",
	"END", "END_FRAME", "END_PARTITION", "EQUALS", "ESCAPE", "EVERY", "EXCEPT",
	"EXEC", "EXECUTE", "EXISTS", "EXP", "EXPLAIN", "EXTEND", "EXTENDED", "EXTERNAL",
	"EXTRACT", "FALSE", "FETCH", "FILTER", "FIRST_VALUE", "FLOAT", "FLOOR", "FOR",
	"FOREIGN", "FRAME_ROW", "FREE", "FRESHNESS", "FROM", "FULL", "FUNCTION",
	"FUNCTIONS", "FUSION", "GET", "GLOBAL", "GRANT", "GROUP", "GROUPING", "GROUPS",
	"HASH", "HAVING", "HOLD", "HOUR", "IDENTITY", "IMPORT", "IN", "INDICATOR",
	"INITIAL", "INNER", "INOUT", "INSENSITIVE", "INSERT", "INT", "INTEGER",
	"INTERSECT", "INTERSECTION", "INTERVAL", "INTO", "IS", "JOIN", "JSON_ARRAY",
	"JSON_ARRAYAGG", "JSON_EXISTS", "JSON_OBJECT", "JSON_OBJECTAGG", "JSON_QUERY",
	"JSON_VALUE", "LAG", "LANGUAGE", "LARGE", "LAST_VALUE", "LATERAL", "LEAD",
	"LEADING", "LEFT", "LIKE", "LIKE_REGEX", "LIMIT", "LN", "LOCAL", "LOCALTIME",
	"LOCALTIMESTAMP", "LOWER", "MATCH", "MATCHES", "MATCH_NUMBER", "MATCH_RECOGNIZE",
	"MATERIALIZED", "MAX", "MEASURES", "MEMBER", "MERGE", "METHOD", "MIN", "MINUS",
	"MINUTE", "MOD", "MODELS", "MODIFIES", "MODIFY", "MODULE", "MODULES", "MONTH",
	"MULTISET", "NATIONAL", "NATURAL", "NCHAR", "NCLOB", "NEW", "NEXT", "NO", "NONE",
	"NORMALIZE", "NOT", "NTH_VALUE", "NTILE", "NULL", "NULLIF", "NUMERIC",
	"OCCURRENCES_REGEX", "OCTET_LENGTH", "OF", "OFFSET", "OLD", "OMIT", "ON", "ONE",
	"ONLY", "OPEN", "OR", "ORDER", "OUT", "OUTER", "OVER", "OVERLAPS", "OVERLAY",
	"PARAMETER", "PARTITION", "PATTERN", "PER", "PERCENT", "PERCENTILE_CONT",
	"PERCENTILE_DISC", "PERCENT_RANK", "PERIOD", "PERMUTE", "PORTION", "POSITION",
	"POSITION_REGEX", "POWER", "PRECEDES", "PRECISION", "PREPARE", "PREV", "PRIMARY",
	"PROCEDURE", "PROCEDURES", "RANGE", "RANK", "RAW", "READS", "REAL", "RECURSIVE",
	"REF", "REFERENCES", "REFERENCING", "REFRESH", "REFRESH_MODE", "REGR_AVGX",
	"REGR_AVGY", "REGR_COUNT", "REGR_INTERCEPT", "REGR_R2", "REGR_SLOPE", "REGR_SXX",
	"REGR_SXY", "REGR_SYY", "RELEASE", "RENAME", "RESET", "RESULT", "RESUME",
	"RETURN", "RETURNS", "REVOKE", "RIGHT", "ROLLBACK", "ROLLUP", "ROW", "ROWS",
	"ROW_NUMBER", "RUNNING", "SAVEPOINT", "SCALA", "SCOPE", "SCROLL", "SEARCH",
	"SECOND", "SEEK", "SELECT", "SENSITIVE", "SESSION_USER", "SET", "SHOW", "SIMILAR",
	"SKIP", "SMALLINT", "SOME", "SPECIFIC", "SPECIFICTYPE", "SQL", "SQLEXCEPTION",
	"SQLSTATE", "SQLWARNING", "SQRT", "START", "STATIC", "STDDEV_POP", "STDDEV_SAMP",
	"STREAM", "STRING", "STRUCTURED", "SUBMULTISET", "SUBSET", "SUBSTRING",
	"SUBSTRING_REGEX", "SUCCEEDS", "SUM", "SUSPEND", "SYMMETRIC", "SYSTEM",
	"SYSTEM_TIME", "SYSTEM_USER", "TABLE", "TABLES", "TABLESAMPLE", "THEN", "TIME",
	"TIMESTAMP", "TIMESTAMP_LTZ", "TIMEZONE_HOUR", "TIMEZONE_MINUTE", "TINYINT", "TO",
	"TRAILING", "TRANSLATE", "TRANSLATE_REGEX", "TRANSLATION", "TREAT", "TRIGGER",
	"TRIM", "TRIM_ARRAY", "TRUE", "TRUNCATE", "UESCAPE", "UNION", "UNIQUE", "UNKNOWN",
	"UNNEST", "UPDATE", "UPPER", "UPSERT", "USE", "USER", "USING", "VALUE", "VALUES",
	"VALUE_OF", "VARBINARY", "VARCHAR", "VARYING", "VAR_POP", "VAR_SAMP",
	"VERSIONING", "VIEWS", "WATERMARK", "WATERMARKS", "WHEN", "WHENEVER", "WHERE",
	"WIDTH_BUCKET", "WINDOW", "WITH", "WITHIN", "WITHOUT", "YEAR",
}

var reservedSet = func() map[string]string {
	m := make(map[string]string, len(reservedWords))
	for _, w := range reservedWords {
		m[w] = w
	}
	return m
}()

// LookupReserved reports whether word (in any letter case) is a reserved
// word, and returns it in upper case. It does not allocate.
func LookupReserved(word string) (string, bool) {
	if len(word) > 40 {
		return "", false
	}
	var buf [40]byte
	for i := 0; i < len(word); i++ {
		c := word[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if c >= 0x80 {
			return "", false
		}
		buf[i] = c
	}
	kw, ok := reservedSet[string(buf[:len(word)])]
	return kw, ok
}

// IsReserved reports whether word (in any letter case) is a reserved word,
// which must be quoted to be used as a name.
func IsReserved(word string) bool {
	_, ok := LookupReserved(word)
	return ok
}

// ReservedWords returns the reserved words in alphabetical order.
func ReservedWords() []string {
	out := slices.Clone(reservedWords)
	slices.Sort(out)
	return out
}

// IsPlainName reports whether name can be written without quotes: a letter
// or underscore, then letters, digits, underscores or dollar signs, and not a
// reserved word.
func IsPlainName(name string) bool {
	if name == "" || IsReserved(name) {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_' || isLetter(r):
		case i > 0 && (r == '$' || ('0' <= r && r <= '9')):
		default:
			return false
		}
	}
	return true
}

// isLetter is the lexer's letter: ASCII letters and any Unicode letter.
func isLetter(r rune) bool {
	return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || (r >= 0x80 && unicode.IsLetter(r))
}
