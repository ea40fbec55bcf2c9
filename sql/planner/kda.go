package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/types"
)

// Kinesis Data Analytics' application statements (docs/sql-anomaly.md):
//
//	CREATE [OR REPLACE] STREAM name (columns)   -- an in-application stream
//	CREATE [OR REPLACE] PUMP name AS INSERT INTO target SELECT STREAM ...
//
// An in-application stream lives inside the job: the pumps that insert
// into it are its rows (their queries' rows cast to its columns, the
// union of them when there are several), and a query that reads it reads
// those queries' operators directly, as a view, with no copy. A pump into
// a table (CREATE TABLE with a connector: how a KDA application's source
// and destination streams are declared in Sluice) is an INSERT. A stream
// that pumps fill but nothing reads is an error, as its rows would go
// nowhere; a stream read before a pump fills it is one too.

// kdaStream is an in-application stream.
type kdaStream struct {
	name  string
	span  diag.Span
	names []string
	types []types.Type
	pumps []*relNode // the pumps' queries, cast to the columns
	read  bool       // a query has read it: no more pumps
	pump  string     // the first pump's name, for messages
}

// createStream plans CREATE [OR REPLACE] STREAM.
func (p *relPlanner) createStream(s *ast.CreateStream) error {
	src := p.c.src
	name := s.Name.Last().Name
	if p.streams == nil {
		p.streams = map[string]*kdaStream{}
	}
	if old, dup := p.streams[name]; dup {
		if !s.OrReplace {
			return diag.New(src, s.Name.Span(), "stream '%s' already exists", name)
		}
		if len(old.pumps) > 0 || old.read {
			return diag.New(src, s.Name.Span(), "stream '%s' cannot be replaced: pump '%s' already inserts into it", name, old.pump)
		}
	}
	if _, isV := p.cat.View(name); isV {
		return diag.New(src, s.Name.Span(), "stream '%s': a view of that name exists", name)
	}
	if slices.Contains(p.cat.TableNames(), name) {
		return diag.New(src, s.Name.Span(), "stream '%s': a table of that name exists", name)
	}
	if len(s.Columns) == 0 {
		return diag.New(src, s.Span(), "stream '%s' needs columns", name)
	}
	st := &kdaStream{name: name, span: s.Span()}
	for _, cd := range s.Columns {
		if cd.Kind != ast.PhysicalColumn {
			return diag.New(src, cd.Span(), "stream '%s': column '%s': a stream's columns are physical columns", name, cd.Name.Name)
		}
		if slices.Contains(st.names, cd.Name.Name) {
			return diag.New(src, cd.Name.Span(), "stream '%s': duplicate column '%s'", name, cd.Name.Name)
		}
		t, err := convertType(src, cd.Type)
		if err != nil {
			return err
		}
		st.names = append(st.names, cd.Name.Name)
		st.types = append(st.types, t)
	}
	p.streams[name] = st
	p.gen++
	return nil
}

// createPump plans CREATE [OR REPLACE] PUMP: an INSERT into a table, or
// the rows of an in-application stream (then it returns nil).
func (p *relPlanner) createPump(s *ast.CreatePump) (*insertPlan, error) {
	src := p.c.src
	ins := s.Insert
	st, ok := p.streams[ins.Table.Last().Name]
	if !ok {
		return p.planInsert(ins)
	}
	switch {
	case st.read:
		return nil, diag.New(src, s.Name.Span(), "pump '%s' inserts into stream '%s' after a query has read it: create the pumps that fill a stream before those that read it", s.Name.Last().Name, st.name)
	case ins.Overwrite || len(ins.Partition) > 0 || len(ins.Columns) > 0:
		return nil, diag.New(src, ins.Span(), "a pump's INSERT with OVERWRITE, a column list or PARTITION is not supported yet")
	}
	n, err := p.query(ins.Query)
	if err != nil {
		return nil, err
	}
	if len(n.sc.names) != len(st.names) {
		return nil, diag.New(src, ins.Query.Span(), "pump '%s': the query has %d columns %s, stream '%s' has %d %s",
			s.Name.Last().Name, len(n.sc.names), bracketNames(n.sc.names), st.name, len(st.names), bracketNames(st.names))
	}
	for j, t := range st.types {
		if _, ok := types.CommonType(n.sc.types[j], t); !ok {
			return nil, diag.New(src, ins.Query.Span(), "pump '%s': column %d of the query ('%s') is %s, column '%s' of stream '%s' is %s",
				s.Name.Last().Name, j+1, n.sc.names[j], n.sc.types[j], st.names[j], st.name, t)
		}
	}
	out := layoutOf(st.names, st.types)
	c, err := p.castTo(n, out, ins.Query)
	if err != nil {
		return nil, err
	}
	if c != n {
		c.calcBase = st.name + "-cast"
	}
	if len(st.pumps) == 0 {
		st.pump = s.Name.Last().Name
	}
	st.pumps = append(st.pumps, c)
	return nil, nil
}

// streamInput is an in-application stream as a query reads it.
func (p *relPlanner) streamInput(ref *ast.Name) (relInput, bool, error) {
	st, ok := p.streams[ref.Last().Name]
	if !ok || len(ref.Parts) > 1 {
		return relInput{}, false, nil
	}
	if len(st.pumps) == 0 {
		return relInput{}, true, diag.New(p.c.src, ref.Span(), "stream '%s' is read before a pump inserts into it", st.name)
	}
	st.read = true
	n := st.pumps[0]
	if len(st.pumps) > 1 {
		// One node for every reader: the union of the pumps.
		u := &relNode{kind: relUnion, name: st.name, sc: st.pumps[0].sc, layout: st.pumps[0].layout, inputs: st.pumps}
		u.label = fmt.Sprintf("Union(all=[true], union=[%s])", strings.Join(st.names, ", "))
		st.pumps = []*relNode{u}
		n = u
	}
	sc := &scope{names: st.names, types: n.sc.types}
	return relInput{node: n, sc: sc, name: st.name}, true, nil
}

// checkStreams refuses, at the end of a script, an in-application stream
// that pumps fill and nothing reads.
func (p *relPlanner) checkStreams() error {
	var names []string
	for name, st := range p.streams {
		if len(st.pumps) > 0 && !st.read {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	st := p.streams[names[0]]
	e := diag.New(p.c.src, st.span, "pump '%s' inserts into stream '%s', which nothing reads: its rows would go nowhere", st.pump, st.name)
	e.Hint = "to send a stream out of the job, declare it as a table with a connector (CREATE TABLE \"" + st.name + "\" (...) WITH ('connector' = ...)) instead of CREATE STREAM"
	return e
}
