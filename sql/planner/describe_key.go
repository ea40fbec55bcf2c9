package planner

import (
	"slices"

	"github.com/sluicehq/sluice/sql/catalog"
)

// withKeyColumn adds Flink's "key" column to DESCRIBE's rows of table t
// (after "null"): PRI(cols) on each primary-key column.
func withKeyColumn(rows [][]string, t *catalog.Table) {
	key := t.PrimaryKey.String()
	for i, r := range rows {
		k := ""
		switch {
		case i == 0:
			k = "key"
		case slices.Contains(t.PrimaryKey.Columns, r[0]):
			k = key
		}
		rows[i] = slices.Insert(r, 3, k)
	}
}
