package nexmark

import (
	"context"
	"testing"
)

func TestSQLProbe(t *testing.T) {
	for _, q := range Queries {
		cfg := testConfig(1, 2000, 1, t)
		rows, _, err := SQLRows(context.Background(), q.Name, cfg)
		if err != nil {
			t.Logf("%s: %v", q.Name, err)
			continue
		}
		ex := ""
		if len(rows) > 0 {
			ex = rows[0]
		}
		if len(ex) > 200 {
			ex = ex[:200]
		}
		t.Logf("%s: %d rows, e.g. %s", q.Name, len(rows), ex)
	}
}
