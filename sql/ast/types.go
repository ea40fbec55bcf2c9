package ast

// Type is a data type as written in DDL, CAST and function arguments. Name
// is the canonical name: BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT,
// DOUBLE, DECIMAL, CHAR, VARCHAR, STRING, BINARY, VARBINARY, BYTES, DATE,
// TIME, TIMESTAMP, TIMESTAMP_LTZ, TIMESTAMP_TZ, INTERVAL, ARRAY, MULTISET,
// MAP, ROW or RAW. Synonyms are read as these: INTEGER as INT, REAL as FLOAT,
// DOUBLE PRECISION as DOUBLE, DEC and NUMERIC as DECIMAL, CHARACTER as CHAR,
// CHAR VARYING as VARCHAR, TIMESTAMP WITHOUT TIME ZONE as TIMESTAMP,
// TIMESTAMP WITH LOCAL TIME ZONE as TIMESTAMP_LTZ, TIMESTAMP WITH TIME ZONE
// as TIMESTAMP_TZ, and T ARRAY as ARRAY<T>.
type Type struct {
	Spanned
	Name string
	// Params are the numbers in parentheses as written: a length
	// (VARCHAR(10)), a precision (TIMESTAMP(3)), or precision and scale
	// (DECIMAL(10, 2)). Empty when none were written.
	Params []int
	// Elem is the element type of ARRAY and MULTISET.
	Elem *Type
	// Key and Value are the types of MAP.
	Key, Value *Type
	// Fields are ROW's fields.
	Fields []*RowField
	// Interval is the qualifier of INTERVAL types (INTERVAL DAY TO SECOND(3)).
	Interval *IntervalQualifier
	// RawClass and RawSnapshot are RAW('class', 'snapshot')'s arguments;
	// RawSnapshot is nil when only the class is given.
	RawClass, RawSnapshot *StringLit
	// NotNull is set for a type followed by NOT NULL.
	NotNull bool
}

// RowField is one field of a ROW type: name type ['comment'].
type RowField struct {
	Spanned
	Name    *Ident
	Type    *Type
	Comment *StringLit
}
