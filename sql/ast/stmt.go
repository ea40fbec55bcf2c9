package ast

// Statement is one statement of a script.
type Statement interface {
	Node
	stmtNode()
}

// QueryStmt is a query on its own: SELECT ..., VALUES ..., WITH ....
type QueryStmt struct {
	Spanned
	Query *Query
}

// Option is one 'key' = 'value' of a WITH (...) clause or ALTER ... SET.
type Option struct {
	Spanned
	Key, Value *StringLit
}

// ColumnKind is the kind of a column in CREATE TABLE.
type ColumnKind uint8

// The kinds of column.
const (
	// PhysicalColumn is name type.
	PhysicalColumn ColumnKind = iota + 1
	// ComputedColumn is name AS expr.
	ComputedColumn
	// MetadataColumn is name type METADATA [FROM 'key'] [VIRTUAL].
	MetadataColumn
)

// ColumnDef is one column of CREATE TABLE (or CREATE STREAM, or ALTER TABLE
// ADD/MODIFY).
type ColumnDef struct {
	Spanned
	Name *Ident
	Kind ColumnKind
	// Type is the type of a physical or metadata column.
	Type *Type
	// Expr is the expression of a computed column.
	Expr Expr
	// MetadataKey is a metadata column's FROM 'key', nil when the key is
	// the column's name.
	MetadataKey *StringLit
	// Virtual marks a metadata column that is read but never written.
	Virtual bool
	// Constraint is an inline PRIMARY KEY NOT ENFORCED.
	Constraint *Constraint
	Comment    *StringLit
	// Position is ALTER TABLE's FIRST or AFTER col, nil elsewhere.
	Position *ColumnPosition
}

// ColumnPosition is FIRST or AFTER col in ALTER TABLE ADD/MODIFY.
type ColumnPosition struct {
	Spanned
	First bool
	After *Ident
}

// ConstraintKind is PRIMARY KEY or UNIQUE.
type ConstraintKind uint8

// The constraint kinds.
const (
	PrimaryKey ConstraintKind = iota + 1
	UniqueKey
)

// Constraint is [CONSTRAINT name] PRIMARY KEY (cols) [NOT] ENFORCED, as a
// table constraint (Columns set) or a column constraint (Columns empty).
type Constraint struct {
	Spanned
	Name    *Ident
	Kind    ConstraintKind
	Columns []*Ident
	// NotEnforced is NOT ENFORCED (the only mode Flink runs); Enforced is
	// an explicit ENFORCED. Neither is set when nothing was written.
	NotEnforced, Enforced bool
}

// Watermark is WATERMARK FOR column AS expr.
type Watermark struct {
	Spanned
	Column *Name
	Expr   Expr
}

// LikeOption is one INCLUDING|EXCLUDING|OVERWRITING feature of CREATE
// TABLE ... LIKE.
type LikeOption struct {
	Spanned
	// Strategy is "INCLUDING", "EXCLUDING" or "OVERWRITING".
	Strategy string
	// Feature is "ALL", "CONSTRAINTS", "DISTRIBUTION", "GENERATED",
	// "METADATA", "OPTIONS", "PARTITIONS" or "WATERMARKS".
	Feature string
}

// LikeClause is LIKE source [(options)].
type LikeClause struct {
	Spanned
	Source  *Name
	Options []*LikeOption
}

// CreateTable is CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] name
// [(columns, watermarks, constraints)] [COMMENT '...'] [PARTITIONED BY (...)]
// [WITH (...)] [LIKE ... | AS query].
type CreateTable struct {
	Spanned
	OrReplace     bool
	Temporary     bool
	IfNotExists   bool
	Name          *Name
	Columns       []*ColumnDef
	Watermarks    []*Watermark
	Constraints   []*Constraint
	Comment       *StringLit
	PartitionedBy []*Ident
	Options       []*Option
	Like          *LikeClause
	// AsQuery is the query of CREATE TABLE ... AS SELECT.
	AsQuery *Query
}

// CreateView is CREATE [OR REPLACE] [TEMPORARY] VIEW [IF NOT EXISTS] name
// [(cols)] [COMMENT '...'] AS query.
type CreateView struct {
	Spanned
	OrReplace   bool
	Temporary   bool
	IfNotExists bool
	Name        *Name
	Columns     []*Ident
	Comment     *StringLit
	Query       *Query
}

// CreateFunction is CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT EXISTS]
// name AS 'identifier' [LANGUAGE JAVA|SCALA|PYTHON|...] [USING JAR '...', ...].
type CreateFunction struct {
	Spanned
	Temporary   bool
	System      bool
	IfNotExists bool
	Name        *Name
	Identifier  *StringLit
	// Language is the word after LANGUAGE in upper case, "" when absent.
	Language string
	Jars     []*StringLit
}

// CreateCatalog is CREATE CATALOG [IF NOT EXISTS] name [COMMENT '...']
// WITH (...).
type CreateCatalog struct {
	Spanned
	IfNotExists bool
	Name        *Ident
	Comment     *StringLit
	Options     []*Option
}

// CreateDatabase is CREATE DATABASE [IF NOT EXISTS] [catalog.]name
// [COMMENT '...'] [WITH (...)].
type CreateDatabase struct {
	Spanned
	IfNotExists bool
	Name        *Name
	Comment     *StringLit
	Options     []*Option
}

// CreateStream is Kinesis Data Analytics' CREATE [OR REPLACE] STREAM name
// (columns) [DESCRIPTION '...']: an in-application stream.
type CreateStream struct {
	Spanned
	OrReplace   bool
	Name        *Name
	Columns     []*ColumnDef
	Description *StringLit
}

// CreatePump is Kinesis Data Analytics' CREATE [OR REPLACE] PUMP name AS
// INSERT INTO stream query: a continuous insert.
type CreatePump struct {
	Spanned
	OrReplace bool
	Name      *Name
	Insert    *Insert
}

// Object kinds of DROP.
const (
	ObjTable             = "TABLE"
	ObjView              = "VIEW"
	ObjFunction          = "FUNCTION"
	ObjCatalog           = "CATALOG"
	ObjDatabase          = "DATABASE"
	ObjStream            = "STREAM"
	ObjPump              = "PUMP"
	ObjMaterializedTable = "MATERIALIZED TABLE"
)

// Drop is DROP [TEMPORARY [SYSTEM]] kind [IF EXISTS] name [RESTRICT|CASCADE].
type Drop struct {
	Spanned
	// Kind is one of the Obj* constants.
	Kind      string
	Temporary bool
	System    bool
	IfExists  bool
	Name      *Name
	// Cascade and Restrict are DROP DATABASE's options.
	Cascade, Restrict bool
}

// AlterAction says what an ALTER TABLE does.
type AlterAction uint8

// The ALTER TABLE actions.
const (
	AlterSetOptions     AlterAction = iota + 1 // SET ('k' = 'v', ...)
	AlterResetOptions                          // RESET ('k', ...)
	AlterRename                                // RENAME TO name
	AlterRenameColumn                          // RENAME col TO col
	AlterAdd                                   // ADD column | (items)
	AlterModify                                // MODIFY column | (items)
	AlterDropColumns                           // DROP [COLUMN] col | (cols)
	AlterDropPrimaryKey                        // DROP PRIMARY KEY
	AlterDropConstraint                        // DROP CONSTRAINT name
	AlterDropWatermark                         // DROP WATERMARK
)

// AlterTable is ALTER TABLE [IF EXISTS] name action; which fields are set
// depends on Action.
type AlterTable struct {
	Spanned
	IfExists bool
	Name     *Name
	Action   AlterAction
	// Options for SET; ResetKeys for RESET.
	Options   []*Option
	ResetKeys []*StringLit
	// NewName for RENAME TO.
	NewName *Name
	// Column and NewColumn for RENAME col TO col.
	Column, NewColumn *Ident
	// Columns, Watermarks and Constraints for ADD and MODIFY; Paren says
	// they were given as a parenthesised list.
	Columns     []*ColumnDef
	Watermarks  []*Watermark
	Constraints []*Constraint
	Paren       bool
	// Names for DROP COLUMN(S) and DROP CONSTRAINT.
	Names []*Ident
}

// AlterView is ALTER VIEW name RENAME TO name, or ALTER VIEW name AS query.
type AlterView struct {
	Spanned
	Name    *Name
	NewName *Name
	Query   *Query
}

// PartitionValue is one col = value of INSERT's PARTITION (...).
type PartitionValue struct {
	Spanned
	Column *Ident
	Value  Expr
}

// Insert is INSERT INTO|OVERWRITE table [hints] [PARTITION (...)] [(cols)]
// query.
type Insert struct {
	Spanned
	Overwrite bool
	Table     *Name
	Hints     []*Hint
	Partition []*PartitionValue
	Columns   []*Ident
	Query     *Query
}

// StatementSet is several INSERTs run as one job. Client is the SQL
// client's form, BEGIN STATEMENT SET; ... END; (Execute wraps the other,
// EXECUTE STATEMENT SET BEGIN ... END).
type StatementSet struct {
	Spanned
	Client  bool
	Inserts []*Insert
}

// Execute is EXECUTE INSERT ... or EXECUTE STATEMENT SET BEGIN ... END.
type Execute struct {
	Spanned
	Stmt Statement // *Insert or *StatementSet
}

// Explain is EXPLAIN [PLAN FOR | detail, ...] statement. Details are the
// upper-cased words ESTIMATED_COST, CHANGELOG_MODE, JSON_EXECUTION_PLAN,
// PLAN_ADVICE.
type Explain struct {
	Spanned
	PlanFor bool
	Details []string
	Stmt    Statement
}

// Show is SHOW what [FROM|IN name] [[NOT] LIKE 'pattern']. What is the
// upper-cased words after SHOW: "TABLES", "VIEWS", "FUNCTIONS", "USER
// FUNCTIONS", "JOBS", "CATALOGS", "DATABASES", "MODULES", "FULL MODULES",
// "JARS", "CURRENT CATALOG", "CURRENT DATABASE", "COLUMNS", "PARTITIONS",
// "CREATE TABLE", "CREATE VIEW" or "CREATE CATALOG".
type Show struct {
	Spanned
	What string
	// Name is the object of SHOW CREATE, COLUMNS and PARTITIONS, or the
	// database (catalog) of FROM|IN for the listings.
	Name    *Name
	Like    *StringLit
	NotLike bool
}

// Describe is DESCRIBE|DESC [EXTENDED] name.
type Describe struct {
	Spanned
	Extended bool
	Name     *Name
}

// StopJob is STOP JOB 'id' [WITH SAVEPOINT] [WITH DRAIN].
type StopJob struct {
	Spanned
	ID            *StringLit
	WithSavepoint bool
	WithDrain     bool
}

// Set is SET 'key' = 'value', or SET alone (list the settings): Key and
// Value are then nil.
type Set struct {
	Spanned
	Key, Value *StringLit
}

// Reset is RESET 'key', or RESET alone (all settings): Key is then nil.
type Reset struct {
	Spanned
	Key *StringLit
}

// Use is USE [CATALOG] name or USE MODULES a, b.
type Use struct {
	Spanned
	// Kind is "CATALOG", "DATABASE" or "MODULES".
	Kind  string
	Names []*Name
}

// Jar is ADD JAR 'path', REMOVE JAR 'path' or SHOW JARS's sibling forms.
type Jar struct {
	Spanned
	Remove bool
	Path   *StringLit
}

func (*QueryStmt) stmtNode()      {}
func (*CreateTable) stmtNode()    {}
func (*CreateView) stmtNode()     {}
func (*CreateFunction) stmtNode() {}
func (*CreateCatalog) stmtNode()  {}
func (*CreateDatabase) stmtNode() {}
func (*CreateStream) stmtNode()   {}
func (*CreatePump) stmtNode()     {}
func (*Drop) stmtNode()           {}
func (*AlterTable) stmtNode()     {}
func (*AlterView) stmtNode()      {}
func (*Insert) stmtNode()         {}
func (*StatementSet) stmtNode()   {}
func (*Execute) stmtNode()        {}
func (*Explain) stmtNode()        {}
func (*Show) stmtNode()           {}
func (*Describe) stmtNode()       {}
func (*StopJob) stmtNode()        {}
func (*Set) stmtNode()            {}
func (*Reset) stmtNode()          {}
func (*Use) stmtNode()            {}
func (*Jar) stmtNode()            {}
