package tableenv_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/tableenv"
)

// TestExplain: the plan of a query over a Go stream with a table
// function, and of a window over a Go stream's rowtime.
func TestExplain(t *testing.T) {
	j := engine.NewJob("explain", engine.Config{})
	env := tableenv.New(j, tableenv.Options{})
	must(t, tableenv.FromStream(env, "lines", engine.FromSlice(j, "lines", lines(), engine.NoWatermarks[line]())))
	must(t, tableenv.FromStream(env, "clicks", engine.FromSlice(j, "clicks", clicks(3), engine.NoWatermarks[click]()), tableenv.Rowtime("ts")))
	must(t, tableenv.TableFunc1(env, "split", split))
	for _, tc := range []struct{ query, want string }{
		{"SELECT ID, w FROM lines LEFT JOIN LATERAL TABLE(split(Text)) AS s(w, n) ON TRUE WHERE n > 1", `== Logical plan ==
Sink(table=[$result], connector=[print], fields=[ID, w])
   +- Calc(select=[ID, w], where=[n > 1])
      +- Correlate(invocation=[SPLIT(Text)], correlate=[table(SPLIT)], select=[ID, Text, w, n], joinType=[LEFT])
         +- TableSourceScan(table=[lines], connector=[datastream], fields=[ID, Text])
== Engine job ==
source "lines" (a Go stream) parallelism=1
  -> correlate "$result-correlate" (forward, chained; stateless; the rows of SPLIT per input row; failed calls to the error output) parallelism=1
  -> calc "correlate-calc" (forward, chained; stateless) parallelism=1
`},
		{"SELECT window_start, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end", `
      +- TableSourceScan(table=[clicks], connector=[datastream], fields=[user_name, URL, N, ts], watermark=[SOURCE_WATERMARK()])
== Engine job ==
source "clicks" (a Go stream, its records' timestamps as ts, its own watermarks) parallelism=1
`},
	} {
		got, err := env.Explain(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("EXPLAIN %s:\n%s\nwant it to hold:\n%s", tc.query, got, tc.want)
		}
	}
}

// TestRefusedQueryTakesNoNames: operator names (state uids) do not
// depend on a query that was refused before.
func TestRefusedQueryTakesNoNames(t *testing.T) {
	j := engine.NewJob("names", engine.Config{})
	env := tableenv.New(j, tableenv.Options{})
	must(t, tableenv.FromStream(env, "clicks", engine.FromSlice(j, "clicks", clicks(3), engine.NoWatermarks[click]())))
	if _, err := tableenv.ToStream[out1](env, "SELECT URL FROM clicks WHERE N > 0"); err == nil {
		t.Fatal("a query without column N was not refused")
	}
	got, err := env.Explain("SELECT N FROM clicks WHERE N > 0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, `-> calc "clicks-calc" (`) {
		t.Fatalf("the refused query's names were kept:\n%s", got)
	}
}
