// Package ast is the syntax tree of Sluice's SQL dialect (Flink SQL, with the
// Kinesis Data Analytics forms): statements, queries, table expressions,
// expressions and types, as package parser builds them.
//
// Every node records where it came from (Span: byte offset, line and column
// of its first and one past its last character), so every later stage can
// report an error with a caret under the text it is about. The tree keeps
// what the later stages need and nothing about layout: parentheses that only
// group are dropped (the shape of the tree carries them), synonyms are
// normalised (INTEGER is INT, MINUS is EXCEPT, FETCH FIRST n ROWS ONLY is a
// LIMIT, TIMESTAMP WITH LOCAL TIME ZONE is TIMESTAMP_LTZ), and syntax the
// engine does not run yet is kept, so a later stage can name it in an error
// rather than the parser rejecting valid SQL.
//
// Format prints a tree back as canonical SQL (one line per statement,
// keywords in upper case, names quoted only where they were or must be);
// parsing that text gives the same tree. Dump prints a tree's structure for
// tests and debugging; Inspect walks it.
//
// Names are kept as written: Ident.Quoted says whether the name was quoted
// (with backquotes or, as Kinesis Data Analytics writes them, double quotes).
// Matching names to catalog objects (Flink matches exactly; Kinesis Data
// Analytics folds unquoted names to upper case) is the catalog's business.
//
// Trees are plain data: not safe for concurrent mutation, safe to read from
// several goroutines once built.
package ast

import (
	"github.com/sluicehq/sluice/sql/diag"
)

// Node is any node of the tree.
type Node interface {
	// Span returns the source text the node was parsed from.
	Span() diag.Span
}

// Spanned is embedded in every node and holds its span.
type Spanned struct {
	Loc diag.Span
}

// Span returns the node's source span.
func (s Spanned) Span() diag.Span { return s.Loc }

// Ident is one name: a column, table, alias, function, option or pattern
// variable name.
type Ident struct {
	Spanned
	// Name is the name as written, without quotes and with doubled quote
	// characters undone.
	Name string
	// Quoted reports whether the name was written in `backquotes` or
	// "double quotes".
	Quoted bool
}

// Name is a possibly qualified name: a.b.c. In an expression it is a column
// reference (or table.column, or column.field: resolution decides); in a
// statement it names a table, view or function, catalog.database.object.
type Name struct {
	Spanned
	Parts []*Ident
}

// Last returns the last part of the name (the object's own name).
func (n *Name) Last() *Ident { return n.Parts[len(n.Parts)-1] }

// String returns the name as canonical SQL.
func (n *Name) String() string { return Format(n) }

// Script is a parsed SQL script: its statements and the text they came from.
type Script struct {
	Source     string
	Statements []Statement
}
