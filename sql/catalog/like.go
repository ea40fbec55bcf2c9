package catalog

import (
	"slices"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

// likeMerge is how CREATE TABLE ... LIKE base merges base into the new
// table: the strategy of each feature and how many of the new table's
// columns came from base.
type likeMerge struct {
	strategy map[string]string // feature → INCLUDING, EXCLUDING or OVERWRITING
	baseCols int
}

// likeFeatures are the features whose strategy LIKE options set.
// CONSTRAINTS copies the primary key; DISTRIBUTION has nothing to copy.
var likeFeatures = []string{"CONSTRAINTS", "DISTRIBUTION", "GENERATED", "METADATA", "OPTIONS", "PARTITIONS", "WATERMARKS"}

// likeBase reads the LIKE options as Flink does and copies base's columns,
// watermark and options into t by them: INCLUDING ALL OVERWRITING OPTIONS
// unless said otherwise, an ALL option first and the others over it.
func (c *Catalog) likeBase(s *ast.CreateTable, t *Table) (*likeMerge, error) {
	ln := s.Like.Source.Last().Name
	if _, isV := c.views[ln]; isV {
		return nil, diag.New(c.src, s.Like.Source.Span(), "Source table '`default_catalog`.`default_database`.`%s`' of the LIKE clause can not be a VIEW.", ln)
	}
	base, err := c.Lookup(ln, s.Like.Source.Span())
	if err != nil {
		return nil, err
	}
	m := &likeMerge{strategy: map[string]string{}}
	for _, f := range likeFeatures {
		m.strategy[f] = "INCLUDING"
	}
	m.strategy["OPTIONS"] = "OVERWRITING"
	seen := map[string]bool{}
	for _, o := range s.Like.Options {
		if seen[o.Feature] {
			return nil, diag.New(c.src, o.Span(), "Each like option feature can be declared only once.")
		}
		seen[o.Feature] = true
		switch o.Feature {
		case "ALL", "CONSTRAINTS", "PARTITIONS", "DISTRIBUTION":
			if o.Strategy == "OVERWRITING" {
				return nil, diag.New(c.src, o.Span(), "Illegal merging strategy '%s' for '%s' option.", o.Strategy, o.Feature)
			}
		}
		if o.Feature == "ALL" {
			for _, f := range likeFeatures {
				m.strategy[f] = o.Strategy
			}
		}
	}
	for _, o := range s.Like.Options {
		if o.Feature != "ALL" {
			m.strategy[o.Feature] = o.Strategy
		}
	}
	for _, col := range base.Columns {
		if col.Expr != nil && m.strategy["GENERATED"] == "EXCLUDING" {
			continue
		}
		if col.Metadata != "" && m.strategy["METADATA"] == "EXCLUDING" {
			continue
		}
		t.Columns = append(t.Columns, col)
	}
	m.baseCols = len(t.Columns)
	if base.Watermark != nil && m.strategy["WATERMARKS"] != "EXCLUDING" {
		w := *base.Watermark
		t.Watermark = &w
	}
	if base.PrimaryKey != nil && m.strategy["CONSTRAINTS"] != "EXCLUDING" {
		k := *base.PrimaryKey
		k.Columns = slices.Clone(k.Columns)
		k.ColSpans = nil // the base table's: point at LIKE instead
		k.Span = s.Like.Span()
		t.PrimaryKey = &k
	}
	if m.strategy["PARTITIONS"] != "EXCLUDING" {
		t.PartitionKeys = slices.Clone(base.PartitionKeys)
	}
	if m.strategy["OPTIONS"] != "EXCLUDING" {
		for k, v := range base.Options {
			t.Options[k] = v
			t.OptionSpans[k] = base.OptionSpans[k]
		}
	}
	return m, nil
}

// mergeColumn is a new column named like base column i: only a computed
// column may replace a computed one, under OVERWRITING GENERATED.
func (m *likeMerge) mergeColumn(src string, t *Table, i int, col Column, cd *ast.ColumnDef) error {
	old := t.Columns[i]
	switch {
	case old.Expr == nil && col.Expr != nil:
		return diag.New(src, cd.Name.Span(), "A physical column named '%s' already exists in the base table. Computed columns cannot overwrite physical fields.", col.Name)
	case old.Expr == nil || col.Expr == nil:
		return diag.New(src, cd.Name.Span(), "A column named '%s' already exists in the base table.", col.Name)
	case m.strategy["GENERATED"] != "OVERWRITING":
		return diag.New(src, cd.Name.Span(), "A generated column named '%s' already exists in the base table. You might want to specify EXCLUDING GENERATED or OVERWRITING GENERATED.", col.Name)
	}
	t.Columns[i] = col
	return nil
}
