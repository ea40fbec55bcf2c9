package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

// PrimaryKey is a table's PRIMARY KEY (...) NOT ENFORCED: its name (the
// CONSTRAINT name, else Flink's generated PK_<hash>) and its columns, in
// the order written. Flink does not check the key on the data; it tells
// an upsert connector which columns identify a row.
type PrimaryKey struct {
	Name    string
	Columns []string
	Span    diag.Span
	// ColSpans locate each column's name in the constraint.
	ColSpans []diag.Span
}

// String is DESCRIBE's form, as Flink's: PRI(a, b).
func (k *PrimaryKey) String() string { return "PRI(" + strings.Join(k.Columns, ", ") + ")" }

// Indexes are the key columns' positions in t.Columns.
func (k *PrimaryKey) Indexes(t *Table) []int {
	is := make([]int, len(k.Columns))
	for i, c := range k.Columns {
		is[i] = t.Column(c)
	}
	return is
}

// javaListHash is java.util.List.hashCode of the strings (each by
// String.hashCode over its UTF-16 units): Flink names an unnamed primary
// key "PK_" + the hash of its column list, as SHOW CREATE TABLE prints.
func javaListHash(ss []string) int32 {
	h := int32(1)
	for _, s := range ss {
		var sh int32
		for _, u := range utf16Units(s) {
			sh = 31*sh + int32(u)
		}
		h = 31*h + sh
	}
	return h
}

func utf16Units(s string) []uint16 {
	var us []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			us = append(us, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		us = append(us, uint16(r))
	}
	return us
}

// primaryKey reads the PRIMARY KEY of CREATE TABLE s (a table constraint
// or a column's), with Flink's checks: one key at most, NOT ENFORCED,
// no UNIQUE. The columns are checked by checkPrimaryKey once the table's
// columns are known.
func (c *Catalog) primaryKey(s *ast.CreateTable) (*PrimaryKey, error) {
	var found []*ast.Constraint
	var cols [][]string
	var spans [][]diag.Span
	for _, cd := range s.Columns {
		if cd.Constraint != nil {
			found = append(found, cd.Constraint)
			cols = append(cols, []string{cd.Name.Name})
			spans = append(spans, []diag.Span{cd.Name.Span()})
		}
	}
	for _, k := range s.Constraints {
		found = append(found, k)
		var cs []string
		var sp []diag.Span
		for _, id := range k.Columns {
			cs = append(cs, id.Name)
			sp = append(sp, id.Span())
		}
		cols = append(cols, cs)
		spans = append(spans, sp)
	}
	for _, k := range found {
		if k.Kind == ast.UniqueKey {
			return nil, diag.New(c.src, k.Span(), "UNIQUE constraint is not supported yet")
		}
		if !k.NotEnforced {
			return nil, diag.New(c.src, k.Span(), "Flink doesn't support ENFORCED mode for PRIMARY KEY constraint. ENFORCED/NOT ENFORCED controls if the constraint checks are performed on the incoming/outgoing data. Flink does not own the data therefore the only supported mode is the NOT ENFORCED mode")
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, diag.New(c.src, found[1].Span(), "Duplicate primary key definition")
	}
	k := &PrimaryKey{Columns: cols[0], Span: found[0].Span(), ColSpans: spans[0]}
	if found[0].Name != nil {
		k.Name = found[0].Name.Name
	} else {
		k.Name = fmt.Sprintf("PK_%d", javaListHash(k.Columns))
	}
	return k, nil
}

// checkPrimaryKey checks the key's columns against t's (Flink's schema
// resolver's messages) and makes them NOT NULL, as Flink does.
func checkPrimaryKey(src string, t *Table, k *PrimaryKey) error {
	var dups []string
	for i, c := range k.Columns {
		if slices.Contains(k.Columns[:i], c) && !slices.Contains(dups, c) {
			dups = append(dups, c)
		}
	}
	if len(dups) > 0 {
		return diag.New(src, k.Span, "Invalid primary key '%s'. A primary key must not contain duplicate columns. Found: [%s]", k.Name, strings.Join(dups, ", "))
	}
	for j, cn := range k.Columns {
		at := k.Span
		if j < len(k.ColSpans) {
			at = k.ColSpans[j]
		}
		i := t.Column(cn)
		if i < 0 {
			e := diag.New(src, at, "Invalid primary key '%s'. Column '%s' does not exist.", k.Name, cn)
			if best, ok := diag.Closest(cn, t.ColumnNames()); ok {
				e.Hint = fmt.Sprintf("did you mean '%s'?", best)
			}
			return e
		}
		col := &t.Columns[i]
		if col.Expr != nil || col.Metadata != "" {
			return diag.New(src, at, "Invalid primary key '%s'. Column '%s' is not a physical column.", k.Name, cn)
		}
		col.Type = col.Type.AsNotNull()
	}
	return nil
}
