package parser

import (
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

const optionHint = "options are strings on both sides: 'connector' = 'datagen'"

// statement parses one statement (without its semicolon).
func (p *parser) statement() ast.Statement {
	start := p.start()
	switch {
	case p.isQueryStart(0) || p.isOp("("):
		q := p.query()
		return &ast.QueryStmt{Spanned: p.span(start), Query: q}
	case p.isKw("INSERT"):
		return p.insert()
	case p.isKw("CREATE"):
		return p.create()
	case p.isKw("DROP"):
		return p.drop()
	case p.isKw("ALTER"):
		return p.alter()
	case p.isKw("SET"):
		return p.set()
	case p.isKw("RESET"):
		p.advance()
		r := &ast.Reset{}
		if p.cur().kind == tString {
			r.Key = p.str("a string", "")
		}
		r.Spanned = p.span(start)
		return r
	case p.isKw("EXPLAIN"):
		return p.explain()
	case p.isKw("SHOW"):
		return p.show()
	case p.isKw("DESCRIBE") || p.isKw("DESC"):
		p.advance()
		d := &ast.Describe{Extended: p.takeKw("EXTENDED")}
		d.Name = p.name("a table name")
		d.Spanned = p.span(start)
		return d
	case p.isKw("USE"):
		return p.use()
	case p.isKw("EXECUTE"):
		p.advance()
		e := &ast.Execute{}
		switch {
		case p.isKw("INSERT"):
			e.Stmt = p.insert()
		case p.isKw("STATEMENT"):
			e.Stmt = p.statementSet()
		default:
			p.want("INSERT")
			p.want("STATEMENT SET")
			p.unexpected()
		}
		e.Spanned = p.span(start)
		return e
	case p.isKw("BEGIN"):
		return p.clientStatementSet()
	case p.isKw("STOP"):
		p.advance()
		p.expectKw("JOB")
		s := &ast.StopJob{ID: p.str("a job id string", "")}
		for p.isKw("WITH") {
			switch {
			case !s.WithSavepoint && p.acceptKws("WITH", "SAVEPOINT"):
				s.WithSavepoint = true
			case !s.WithDrain && p.acceptKws("WITH", "DRAIN"):
				s.WithDrain = true
			default:
				p.advance()
				p.unexpected()
			}
		}
		s.Spanned = p.span(start)
		return s
	case (p.isKw("ADD") || p.isKw("REMOVE")) && p.isWordAt(1, "JAR"):
		j := &ast.Jar{Remove: p.isKw("REMOVE")}
		p.advance()
		p.advance()
		j.Path = p.str("a string", "")
		j.Spanned = p.span(start)
		return j
	case p.isKw("END"):
		p.failAt("", "END without BEGIN STATEMENT SET")
	}
	for _, w := range []string{"SELECT", "INSERT", "CREATE", "DROP", "ALTER", "SET", "RESET", "EXPLAIN", "SHOW", "DESCRIBE", "USE", "EXECUTE", "BEGIN STATEMENT SET", "STOP JOB", "WITH", "VALUES"} {
		p.want(w)
	}
	p.unexpected()
	return nil
}

func (p *parser) set() ast.Statement {
	start := p.start()
	p.expectKw("SET")
	s := &ast.Set{}
	if p.isOp(";") || p.cur().kind == tEOF {
		s.Spanned = p.span(start)
		return s
	}
	const hint = "quote the key and the value: SET 'parallelism.default' = '4'"
	s.Key = p.str("a string", hint)
	p.expectOp("=")
	s.Value = p.str("a string", hint)
	s.Spanned = p.span(start)
	return s
}

// options reads ( 'k' = 'v', ... ).
func (p *parser) options() []*ast.Option {
	p.expectOp("(")
	out := []*ast.Option{}
	if p.acceptOp(")") {
		return out
	}
	for {
		start := p.start()
		o := &ast.Option{Key: p.str("a string", optionHint)}
		p.expectOp("=")
		o.Value = p.str("a string", optionHint)
		o.Spanned = p.span(start)
		out = append(out, o)
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return out
}

func (p *parser) comment() *ast.StringLit {
	if p.acceptKw("COMMENT") {
		return p.str("a string", "")
	}
	return nil
}

func (p *parser) ifNotExists() bool { return p.acceptKws("IF", "NOT", "EXISTS") }

func (p *parser) create() ast.Statement {
	start := p.start()
	p.expectKw("CREATE")
	orReplace := p.acceptKws("OR", "REPLACE")
	temporary, system := false, false
	if p.acceptKw("TEMPORARY") {
		temporary = true
		system = p.acceptKw("SYSTEM")
	}
	switch {
	case p.acceptKw("TABLE"):
		return p.createTable(start, orReplace, temporary)
	case p.acceptKw("VIEW"):
		v := &ast.CreateView{OrReplace: orReplace, Temporary: temporary, IfNotExists: p.ifNotExists()}
		v.Name = p.name("a view name")
		if p.isOp("(") {
			v.Columns = p.parenIdents("a column name")
		}
		v.Comment = p.comment()
		p.expectKw("AS")
		v.Query = p.query()
		v.Spanned = p.span(start)
		return v
	case p.acceptKw("FUNCTION"):
		f := &ast.CreateFunction{Temporary: temporary, System: system, IfNotExists: p.ifNotExists()}
		f.Name = p.name("a function name")
		p.expectKw("AS")
		f.Identifier = p.str("a string", "the function is named by a string: AS 'com.example.MyFunction'")
		if p.acceptKw("LANGUAGE") {
			f.Language = strings.ToUpper(p.ident("a language").Name)
		}
		if p.acceptKw("USING") {
			for {
				p.expectKw("JAR")
				f.Jars = append(f.Jars, p.str("a string", ""))
				if !p.acceptOp(",") {
					break
				}
			}
		}
		f.Spanned = p.span(start)
		return f
	case p.acceptKw("CATALOG"):
		c := &ast.CreateCatalog{IfNotExists: p.ifNotExists()}
		c.Name = p.ident("a catalog name")
		c.Comment = p.comment()
		p.expectKw("WITH")
		c.Options = p.options()
		c.Spanned = p.span(start)
		return c
	case p.acceptKw("DATABASE"):
		d := &ast.CreateDatabase{IfNotExists: p.ifNotExists()}
		d.Name = p.name("a database name")
		d.Comment = p.comment()
		if p.acceptKw("WITH") {
			d.Options = p.options()
		}
		d.Spanned = p.span(start)
		return d
	case p.acceptKw("STREAM"):
		s := &ast.CreateStream{OrReplace: orReplace}
		s.Name = p.name("a stream name")
		p.expectOp("(")
		for {
			s.Columns = append(s.Columns, p.column())
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
		if p.acceptKw("DESCRIPTION") {
			s.Description = p.str("a string", "")
		}
		s.Spanned = p.span(start)
		return s
	case p.acceptKw("PUMP"):
		pm := &ast.CreatePump{OrReplace: orReplace}
		pm.Name = p.name("a pump name")
		p.expectKw("AS")
		pm.Insert = p.insert()
		pm.Spanned = p.span(start)
		return pm
	}
	p.unexpected()
	return nil
}

func (p *parser) createTable(start diag.Pos, orReplace, temporary bool) ast.Statement {
	t := &ast.CreateTable{OrReplace: orReplace, Temporary: temporary, IfNotExists: p.ifNotExists()}
	t.Name = p.name("a table name")
	if p.acceptOp("(") {
		for {
			p.tableElement(&t.Columns, &t.Watermarks, &t.Constraints)
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
	}
	t.Comment = p.comment()
	if p.acceptKws("PARTITIONED", "BY") {
		t.PartitionedBy = p.parenIdents("a column name")
	}
	if p.acceptKw("WITH") {
		t.Options = p.options()
	}
	if p.acceptKw("LIKE") {
		ls := p.start()
		l := &ast.LikeClause{Source: p.name("a table name")}
		if p.acceptOp("(") {
			for {
				os := p.start()
				o := &ast.LikeOption{Strategy: p.oneOfKw("INCLUDING", "EXCLUDING", "OVERWRITING")}
				if o.Strategy == "" {
					p.unexpected()
				}
				o.Feature = p.oneOfKw("ALL", "CONSTRAINTS", "DISTRIBUTION", "GENERATED", "METADATA", "OPTIONS", "PARTITIONS", "WATERMARKS")
				if o.Feature == "" {
					p.unexpected()
				}
				o.Spanned = p.span(os)
				l.Options = append(l.Options, o)
				if p.acceptOp(")") {
					break
				}
			}
		}
		l.Spanned = p.span(ls)
		t.Like = l
	} else if p.acceptKw("AS") {
		t.AsQuery = p.query()
	}
	t.Spanned = p.span(start)
	return t
}

// tableElement parses one item of a CREATE TABLE (or ALTER TABLE ADD)
// list: a column, a WATERMARK or a table constraint.
func (p *parser) tableElement(cols *[]*ast.ColumnDef, wms *[]*ast.Watermark, cons *[]*ast.Constraint) {
	switch {
	case p.isKw("WATERMARK"):
		*wms = append(*wms, p.watermark())
	case p.isKw("CONSTRAINT") || p.isKw("PRIMARY") || p.isKw("UNIQUE"):
		*cons = append(*cons, p.constraint(true))
	default:
		*cols = append(*cols, p.column())
	}
}

func (p *parser) watermark() *ast.Watermark {
	start := p.start()
	p.expectKw("WATERMARK")
	p.expectKw("FOR")
	w := &ast.Watermark{Column: p.name("a column name")}
	p.expectKw("AS")
	w.Expr = p.expr()
	w.Spanned = p.span(start)
	return w
}

// constraint parses [CONSTRAINT name] PRIMARY KEY|UNIQUE [(cols)] [NOT]
// ENFORCED; table constraints have the column list.
func (p *parser) constraint(table bool) *ast.Constraint {
	start := p.start()
	c := &ast.Constraint{}
	if p.acceptKw("CONSTRAINT") {
		c.Name = p.ident("a constraint name")
	}
	if p.acceptKw("UNIQUE") {
		c.Kind = ast.UniqueKey
	} else {
		p.expectKws("PRIMARY", "KEY")
		c.Kind = ast.PrimaryKey
	}
	if table {
		c.Columns = p.parenIdents("a column name")
	}
	if p.acceptKws("NOT", "ENFORCED") {
		c.NotEnforced = true
	} else if p.acceptKw("ENFORCED") {
		c.Enforced = true
	}
	c.Spanned = p.span(start)
	return c
}

// column parses a physical, computed or metadata column.
func (p *parser) column() *ast.ColumnDef {
	start := p.start()
	c := &ast.ColumnDef{Name: p.ident("a column name")}
	if p.acceptKw("AS") {
		c.Kind = ast.ComputedColumn
		c.Expr = p.expr()
	} else {
		c.Kind = ast.PhysicalColumn
		c.Type = p.typ()
		if p.acceptKw("METADATA") {
			c.Kind = ast.MetadataColumn
			if p.acceptKw("FROM") {
				c.MetadataKey = p.str("a string", "the metadata key is a string: METADATA FROM 'timestamp'")
			}
			c.Virtual = p.acceptKw("VIRTUAL")
		}
		if p.isKw("CONSTRAINT") || p.isKw("PRIMARY") || p.isKw("UNIQUE") {
			c.Constraint = p.constraint(false)
		}
	}
	c.Comment = p.comment()
	c.Spanned = p.span(start)
	return c
}

func (p *parser) drop() ast.Statement {
	start := p.start()
	p.expectKw("DROP")
	d := &ast.Drop{}
	if p.acceptKw("TEMPORARY") {
		d.Temporary = true
		d.System = p.acceptKw("SYSTEM")
	}
	switch {
	case p.acceptKws("MATERIALIZED", "TABLE"):
		d.Kind = ast.ObjMaterializedTable
	default:
		d.Kind = p.oneOfKw(ast.ObjTable, ast.ObjView, ast.ObjFunction, ast.ObjCatalog, ast.ObjDatabase, ast.ObjStream, ast.ObjPump)
		if d.Kind == "" {
			p.unexpected()
		}
	}
	d.IfExists = p.acceptKws("IF", "EXISTS")
	d.Name = p.name("a name")
	if d.Kind == ast.ObjDatabase {
		if p.acceptKw("CASCADE") {
			d.Cascade = true
		} else {
			d.Restrict = p.acceptKw("RESTRICT")
		}
	}
	d.Spanned = p.span(start)
	return d
}

func (p *parser) alter() ast.Statement {
	start := p.start()
	p.expectKw("ALTER")
	if p.acceptKw("VIEW") {
		v := &ast.AlterView{Name: p.name("a view name")}
		if p.acceptKw("RENAME") {
			p.expectKw("TO")
			v.NewName = p.name("a view name")
		} else {
			p.expectKw("AS")
			v.Query = p.query()
		}
		v.Spanned = p.span(start)
		return v
	}
	p.expectKw("TABLE")
	a := &ast.AlterTable{IfExists: p.acceptKws("IF", "EXISTS")}
	a.Name = p.name("a table name")
	switch {
	case p.acceptKw("SET"):
		a.Action = ast.AlterSetOptions
		a.Options = p.options()
	case p.acceptKw("RESET"):
		a.Action = ast.AlterResetOptions
		p.expectOp("(")
		for {
			a.ResetKeys = append(a.ResetKeys, p.str("a string", ""))
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
	case p.acceptKw("RENAME"):
		if p.acceptKw("TO") {
			a.Action = ast.AlterRename
			a.NewName = p.name("a table name")
		} else {
			a.Action = ast.AlterRenameColumn
			a.Column = p.ident("a column name")
			p.expectKw("TO")
			a.NewColumn = p.ident("a column name")
		}
	case p.isKw("ADD") || p.isKw("MODIFY"):
		a.Action = ast.AlterAdd
		if p.isKw("MODIFY") {
			a.Action = ast.AlterModify
		}
		p.advance()
		if p.acceptOp("(") {
			a.Paren = true
			for {
				p.alterItem(a)
				if !p.acceptOp(",") {
					break
				}
			}
			p.expectOp(")")
		} else {
			p.alterItem(a)
		}
	case p.acceptKw("DROP"):
		switch {
		case p.acceptKws("PRIMARY", "KEY"):
			a.Action = ast.AlterDropPrimaryKey
		case p.acceptKw("CONSTRAINT"):
			a.Action = ast.AlterDropConstraint
			a.Names = []*ast.Ident{p.ident("a constraint name")}
		case p.acceptKw("WATERMARK"):
			a.Action = ast.AlterDropWatermark
		default:
			a.Action = ast.AlterDropColumns
			p.acceptKw("COLUMN")
			if p.isOp("(") {
				a.Names = p.parenIdents("a column name")
			} else {
				a.Names = []*ast.Ident{p.ident("a column name")}
			}
		}
	default:
		p.unexpected()
	}
	a.Spanned = p.span(start)
	return a
}

// alterItem parses one column (with its position), watermark or
// constraint of ALTER TABLE ADD/MODIFY.
func (p *parser) alterItem(a *ast.AlterTable) {
	n := len(a.Columns)
	p.tableElement(&a.Columns, &a.Watermarks, &a.Constraints)
	if len(a.Columns) == n {
		return
	}
	c := a.Columns[n]
	ps := p.start()
	switch {
	case p.acceptKw("FIRST"):
		c.Position = &ast.ColumnPosition{First: true}
	case p.acceptKw("AFTER"):
		c.Position = &ast.ColumnPosition{After: p.ident("a column name")}
	default:
		return
	}
	c.Position.Spanned = p.span(ps)
	c.Spanned = p.span(c.Loc.Start)
}

func (p *parser) insert() *ast.Insert {
	start := p.start()
	p.expectKw("INSERT")
	ins := &ast.Insert{}
	if p.acceptKw("OVERWRITE") {
		ins.Overwrite = true
	} else {
		p.expectKw("INTO")
	}
	ins.Table = p.name("a table name")
	if p.cur().kind == tHintStart {
		ins.Hints = p.hints()
	}
	if p.acceptKw("PARTITION") {
		p.expectOp("(")
		for {
			ps := p.start()
			pv := &ast.PartitionValue{Column: p.ident("a column name")}
			p.expectOp("=")
			pv.Value = p.expr()
			pv.Spanned = p.span(ps)
			ins.Partition = append(ins.Partition, pv)
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
	}
	if p.isOp("(") && !p.isQueryStart(1) && !p.isOpAt(1, "(") {
		ins.Columns = p.parenIdents("a column name")
	}
	ins.Query = p.query()
	ins.Spanned = p.span(start)
	return ins
}

// statementSet parses STATEMENT SET BEGIN insert; ... END (after EXECUTE).
func (p *parser) statementSet() *ast.StatementSet {
	start := p.start()
	p.expectKws("STATEMENT", "SET")
	p.expectKw("BEGIN")
	s := &ast.StatementSet{}
	p.setInserts(s)
	s.Spanned = p.span(start)
	return s
}

// clientStatementSet parses the SQL client's BEGIN STATEMENT SET; insert;
// ... END.
func (p *parser) clientStatementSet() *ast.StatementSet {
	start := p.start()
	p.expectKw("BEGIN")
	p.expectKws("STATEMENT", "SET")
	p.expectOp(";")
	s := &ast.StatementSet{Client: true}
	p.setInserts(s)
	s.Spanned = p.span(start)
	return s
}

// setInserts reads the INSERTs of a statement set up to and including END.
func (p *parser) setInserts(s *ast.StatementSet) {
	for {
		for p.acceptOp(";") {
		}
		if p.acceptKw("END") {
			return
		}
		if !p.isKw("INSERT") {
			p.want("INSERT")
			if p.isKw("SELECT") || p.isKw("CREATE") || p.isKw("SET") || p.isKw("WITH") {
				p.failAt("move the statement before BEGIN STATEMENT SET", "unexpected %s: a statement set holds only INSERT statements", describe(p.cur()))
			}
			p.unexpected()
		}
		s.Inserts = append(s.Inserts, p.insert())
		if !p.acceptOp(";") {
			p.expectKw("END")
			return
		}
	}
}

var explainDetails = []string{"ESTIMATED_COST", "CHANGELOG_MODE", "JSON_EXECUTION_PLAN", "PLAN_ADVICE"}

func (p *parser) explain() ast.Statement {
	start := p.start()
	p.expectKw("EXPLAIN")
	e := &ast.Explain{}
	if p.acceptKws("PLAN", "FOR") {
		e.PlanFor = true
	} else {
		for {
			d := p.oneOfKw(explainDetails...)
			if d == "" {
				break
			}
			e.Details = append(e.Details, d)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	switch {
	case p.isQueryStart(0) || p.isOp("("):
		q := p.query()
		e.Stmt = &ast.QueryStmt{Spanned: q.Spanned, Query: q}
	case p.isKw("INSERT"):
		e.Stmt = p.insert()
	case p.isKw("STATEMENT"):
		e.Stmt = p.statementSet()
	case p.isKw("EXECUTE"):
		e.Stmt = p.statement()
	default:
		p.want("SELECT")
		p.want("INSERT")
		p.want("STATEMENT SET")
		p.unexpected()
	}
	e.Spanned = p.span(start)
	return e
}

func (p *parser) show() ast.Statement {
	start := p.start()
	p.expectKw("SHOW")
	s := &ast.Show{}
	listing := false
	switch {
	case p.acceptKws("CURRENT", "CATALOG"):
		s.What = "CURRENT CATALOG"
	case p.acceptKws("CURRENT", "DATABASE"):
		s.What = "CURRENT DATABASE"
	case p.acceptKws("USER", "FUNCTIONS"):
		s.What, listing = "USER FUNCTIONS", true
	case p.acceptKws("FULL", "MODULES"):
		s.What = "FULL MODULES"
	case p.acceptKw("CREATE"):
		k := p.oneOfKw("TABLE", "VIEW", "CATALOG")
		if k == "" {
			p.unexpected()
		}
		s.What = "CREATE " + k
		s.Name = p.name("a name")
	case p.acceptKw("COLUMNS"):
		s.What = "COLUMNS"
		if !p.acceptKw("FROM") {
			p.expectKw("IN")
		}
		s.Name = p.name("a table name")
		p.showLike(s)
	case p.acceptKw("PARTITIONS"):
		s.What = "PARTITIONS"
		s.Name = p.name("a table name")
	default:
		s.What = p.oneOfKw("TABLES", "VIEWS", "FUNCTIONS", "DATABASES", "CATALOGS", "MODULES", "JOBS", "JARS")
		switch s.What {
		case "":
			p.unexpected()
		case "TABLES", "VIEWS", "FUNCTIONS", "DATABASES":
			listing = true
		}
	}
	if listing {
		if p.acceptKw("FROM") || p.acceptKw("IN") {
			s.Name = p.name("a name")
		}
		p.showLike(s)
	}
	s.Spanned = p.span(start)
	return s
}

func (p *parser) showLike(s *ast.Show) {
	if p.acceptKws("NOT", "LIKE") {
		s.NotLike = true
		s.Like = p.str("a string", "")
	} else if p.acceptKw("LIKE") {
		s.Like = p.str("a string", "")
	}
}

func (p *parser) use() ast.Statement {
	start := p.start()
	p.expectKw("USE")
	u := &ast.Use{Kind: "DATABASE"}
	switch {
	case p.acceptKw("CATALOG"):
		u.Kind = "CATALOG"
		u.Names = []*ast.Name{p.name("a catalog name")}
	case p.acceptKw("MODULES"):
		u.Kind = "MODULES"
		u.Names = []*ast.Name{p.name("a module name")}
		for p.acceptOp(",") {
			u.Names = append(u.Names, p.name("a module name"))
		}
	default:
		u.Names = []*ast.Name{p.name("a database name")}
	}
	u.Spanned = p.span(start)
	return u
}
