package planner

import (
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/diag"
)

// changelogMode is what a node's output stream carries, as Flink's
// changelog modes: append-only (every row a row.Insert), or a changelog
// whose rows are of every kind (row.Kind: +I, -U, +U, -D).
type changelogMode struct {
	// updates: rows of kinds other than Insert.
	updates bool
	// upsertKey is the columns that identify a row of an updating stream
	// when an update needs no update-before (a keyed aggregate's group
	// columns); nil when not known.
	upsertKey []int
	// producer is the EXPLAIN label of the operator that makes the
	// updates, named in errors ("GroupAggregate(groupBy=[user], ...)").
	producer string
}

// changelog is the mode of n's output. A node that makes updates sets
// n.mode; a calc passes its input's on (each row keeps its kind), a union
// is updating when an input is.
func (n *relNode) changelog() changelogMode {
	if n.mode != nil {
		return *n.mode
	}
	switch n.kind {
	case relCalc:
		m := n.inputs[0].changelog()
		m.upsertKey = nil // a projection may drop or reorder the key columns
		return m
	case relUnion:
		for _, in := range n.inputs {
			if m := in.changelog(); m.updates {
				m.upsertKey = nil
				return m
			}
		}
	}
	return changelogMode{}
}

// acceptsUpdates reports whether sink t takes a changelog: print and
// blackhole always do, other connectors when their factory is a
// catalog.UpdatingSink that says so.
func acceptsUpdates(t *catalog.Table) bool {
	switch t.Factory.Name() {
	case "print", "blackhole":
		return true
	}
	u, ok := t.Factory.(catalog.UpdatingSink)
	return ok && u.AcceptsUpdates()
}

// appendOnlyInput refuses an updating input to an operator that takes
// only append-only streams (Flink's message), at the span of the query
// part that reads it.
func appendOnlyInput(src string, at diag.Span, operator string, in *relNode) error {
	m := in.changelog()
	if !m.updates {
		return nil
	}
	return diag.New(src, at, "%s doesn't support consuming update and delete changes which is produced by node %s", operator, m.producer)
}

// appendOnlySinkHint is what to use instead when an append-only sink is
// given an updating query.
const appendOnlySinkHint = "write to a connector that takes updates (print, blackhole, or 'upsert-shardlog' with a PRIMARY KEY, which writes by key), or make the query append-only (a window aggregation instead of GROUP BY)"
