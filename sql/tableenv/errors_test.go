package tableenv_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/tableenv"
)

type badField struct {
	A int64
	B uint8
}

type dupCols struct {
	A int64 `sql:"x"`
	B int64 `sql:"x"`
}

type noFields struct{ a int64 }

// TestRegistrationErrors: every refusal at registration names the
// function or table and the Go type at fault.
func TestRegistrationErrors(t *testing.T) {
	j := engine.NewJob("reg", engine.Config{})
	env := tableenv.New(j, tableenv.Options{})
	if err := tableenv.ScalarFunc1(env, "twice", func(x int64) int64 { return 2 * x }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"uint param", tableenv.ScalarFunc1(env, "f", func(x uint32) int64 { return 0 }), "tableenv: function f: parameter 1: type uint32 is not supported: want bool (BOOLEAN), int32 (INT), int64 (BIGINT), float64 (DOUBLE), string (STRING), time.Time (TIMESTAMP_LTZ(3)), or a pointer to one of them for a nullable column"},
		{"slice result", tableenv.ScalarFunc1(env, "f", func(x int64) []int64 { return nil }), "tableenv: function f: result: type []int64 is not supported"},
		{"pointer to pointer", tableenv.ScalarFunc1(env, "f", func(x **int64) int64 { return 0 }), "parameter 1: type **int64 is not supported"},
		{"not a func", env.RegisterFunc("f", 42), "tableenv: function f: int is not a Go function"},
		{"variadic", env.RegisterFunc("f", func(xs ...int64) int64 { return 0 }), "tableenv: function f: variadic functions are not supported"},
		{"two results", env.RegisterFunc("f", func(x int64) (int64, int64) { return 0, 0 }), "want one result, or a result and an error; func(int64) (int64, int64) has 2"},
		{"builtin name", tableenv.ScalarFunc1(env, "upper", func(x string) string { return x }), "tableenv: function UPPER is already registered"},
		{"twice", tableenv.ScalarFunc1(env, "TWICE", func(x int64) int64 { return x }), "tableenv: function TWICE is already registered"},
		{"bad name", tableenv.ScalarFunc1(env, "my-func", func(x int64) int64 { return x }), `function name "my-func": want letters, digits and '_'`},
		{"agg uint", tableenv.AggregateFunc1[uint16](env, "agg", aggOf[uint16]{}), "tableenv: aggregate AGG: argument 1: type uint16 is not supported"},
		{"agg result", tableenv.AggregateFunc1[int64](env, "agg", aggRes[[]byte]{}), "tableenv: aggregate AGG: result: type []uint8 is not supported"},
		{"table func not slice", env.RegisterTableFunc("tf", func(x int64) word { return word{} }), "tableenv: function tf: result: tableenv_test.word is not a slice of structs"},
		{"table func field", env.RegisterTableFunc("tf", func(x int64) []badField { return nil }), "tableenv: function tf: result: field tableenv_test.badField.B: type uint8 is not supported"},
		{"stream field", tableenv.FromStream(env, "t", engine.FromSlice(j, "t", []badField{}, engine.NoWatermarks[badField]())), "tableenv: table t: field tableenv_test.badField.B: type uint8 is not supported"},
		{"stream dup", tableenv.FromStream(env, "t", engine.FromSlice(j, "t2", []dupCols{}, engine.NoWatermarks[dupCols]())), `field tableenv_test.dupCols.B: column name "x" is taken by another field`},
		{"stream no fields", tableenv.FromStream(env, "t", engine.FromSlice(j, "t3", []noFields{}, engine.NoWatermarks[noFields]())), "type tableenv_test.noFields has no exported fields"},
		{"stream not struct", tableenv.FromStream(env, "t", engine.FromSlice(j, "t4", []int64{}, engine.NoWatermarks[int64]())), "type int64 is not a struct"},
		{"rowtime clash", tableenv.FromStream(env, "t", engine.FromSlice(j, "t5", []click{}, engine.NoWatermarks[click]()), tableenv.Rowtime("N")), `the rowtime column "N" is also a field's column`},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}

type aggOf[A any] struct{}

func (aggOf[A]) CreateAccumulator() int64        { return 0 }
func (aggOf[A]) Accumulate(acc int64, _ A) int64 { return acc }
func (aggOf[A]) Merge(a, b int64) int64          { return a + b }
func (aggOf[A]) Result(acc int64) int64          { return acc }

type aggRes[R any] struct{}

func (aggRes[R]) CreateAccumulator() int64            { return 0 }
func (aggRes[R]) Accumulate(acc int64, _ int64) int64 { return acc }
func (aggRes[R]) Merge(a, b int64) int64              { return a + b }
func (aggRes[R]) Result(int64) R                      { var r R; return r }

type out1 struct {
	N int64
}

type outTime struct {
	N  int64
	TS time.Time `sql:"ts"`
}

// TestPlanningErrors: calls of Go functions with the wrong count or
// types of arguments, and results that do not fit the Go type, are
// refused when the query is planned, with the position and a caret.
func TestPlanningErrors(t *testing.T) {
	newEnv := func() *tableenv.Env {
		j := engine.NewJob("plan", engine.Config{})
		env := tableenv.New(j, tableenv.Options{})
		must(t, tableenv.FromStream(env, "clicks", engine.FromSlice(j, "clicks", clicks(3), engine.NoWatermarks[click]()), tableenv.Rowtime("ts")))
		must(t, tableenv.ScalarFunc2(env, "shout", func(s string, n int64) string { return s }))
		must(t, tableenv.AggregateFunc1[int64](env, "my_sum", sumAgg{}))
		must(t, tableenv.TableFunc1(env, "split", split))
		return env
	}
	for _, tc := range []struct{ name, query, want string }{
		{"scalar arity", "SELECT shout(URL) AS N FROM clicks", `line 1, column 8: Cannot apply 'SHOUT' to arguments of type 'SHOUT(<STRING>)'. Supported form(s): 'SHOUT(<STRING>, <BIGINT>)'
  SELECT shout(URL) AS N FROM clicks
         ^~~~~~~~~~`},
		{"scalar type", "SELECT shout(N, URL) AS N FROM clicks", `line 1, column 8: Cannot apply 'SHOUT' to arguments of type 'SHOUT(<BIGINT>, <STRING>)'. Supported form(s): 'SHOUT(<STRING>, <BIGINT>)'
  SELECT shout(N, URL) AS N FROM clicks
         ^~~~~~~~~~~~~`},
		{"aggregate type", "SELECT my_sum(URL) AS N FROM clicks", `line 1, column 8: Cannot apply 'MY_SUM' to arguments of type 'MY_SUM(<STRING>)'. Supported form(s): 'MY_SUM(<BIGINT>)'
  SELECT my_sum(URL) AS N FROM clicks
         ^~~~~~~~~~~`},
		{"table function type", "SELECT N FROM clicks, LATERAL TABLE(split(N))", `line 1, column 37: Cannot apply 'SPLIT' to arguments of type 'SPLIT(<BIGINT>)'. Supported form(s): 'SPLIT(<STRING>)'
  SELECT N FROM clicks, LATERAL TABLE(split(N))
                                      ^~~~~~~~`},
		{"right join lateral", "SELECT N FROM clicks RIGHT JOIN LATERAL TABLE(split(URL)) ON TRUE", `RIGHT JOIN LATERAL TABLE(SPLIT(...)) is not supported: use a comma, CROSS JOIN, JOIN ... ON TRUE or LEFT JOIN ... ON TRUE`},
		{"left join condition", "SELECT N FROM clicks LEFT JOIN LATERAL TABLE(split(URL)) AS s(w, n) ON n > 1", `line 1, column 72: LEFT JOIN LATERAL TABLE(SPLIT(...)) takes only ON TRUE as its condition
  SELECT N FROM clicks LEFT JOIN LATERAL TABLE(split(URL)) AS s(w, n) ON n > 1
                                                                         ^~~~~`},
		{"missing column", "SELECT URL FROM clicks", `line 1, column 1: the query has no column 'N' for field tableenv_test.out1.N (its columns: URL)
  SELECT URL FROM clicks
  ^~~~~~~~~~~~~~~~~~~~~~`},
		{"extra column", "SELECT N, URL FROM clicks", `column 'URL' of the query has no field in tableenv_test.out1: add a field (or a ` + "`sql:\"URL\"`" + ` tag), or leave the column out of the SELECT`},
		{"mistyped column", "SELECT URL AS N FROM clicks", `column 'N' of the query is STRING NOT NULL, which field tableenv_test.out1.N (int64, SQL BIGINT NOT NULL) cannot hold`},
		{"nullable column", "SELECT CAST(NULLIF(N, 0) AS BIGINT) AS N FROM clicks", `column 'N' of the query is BIGINT, which field tableenv_test.out1.N (int64, SQL BIGINT NOT NULL) cannot hold (a nullable column needs a pointer field: *int64)`},
		{"unknown function", "SELECT shot(URL, N) AS N FROM clicks", `No match found for function signature SHOT: unknown function; did you mean SHOUT?`},
		{"unknown table function", "SELECT N FROM clicks, LATERAL TABLE(splt(URL))", `line 1, column 37: No match found for function signature SPLT: unknown table function
  SELECT N FROM clicks, LATERAL TABLE(splt(URL))
                                      ^~~~
  hint: did you mean SPLIT?`},
		{"two selects", "SELECT N FROM clicks; SELECT N FROM clicks", `the script has 2 top-level SELECTs: want one`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tableenv.ToStream[out1](newEnv(), tc.query)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
	// The rowtime column is a TIMESTAMP_LTZ(3) *ROWTIME* that a
	// time.Time takes.
	if _, err := tableenv.ToStream[outTime](newEnv(), "SELECT N, ts FROM clicks"); err != nil {
		t.Fatal(err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestAggregateWithoutRetractOverUpdates: a Go aggregate without
// Retract is refused over an updating input, as the built-ins that
// cannot retract are.
func TestAggregateWithoutRetractOverUpdates(t *testing.T) {
	j := engine.NewJob("retract", engine.Config{})
	env := tableenv.New(j, tableenv.Options{})
	must(t, tableenv.FromStream(env, "clicks", engine.FromSlice(j, "clicks", clicks(3), engine.NoWatermarks[click]())))
	must(t, tableenv.AggregateFunc1[string](env, "shortest", minLen{}))
	type res struct {
		S *string `sql:"s"`
	}
	_, err := tableenv.ToChangelogStream[res](env, "SELECT shortest(u) AS s FROM (SELECT user_name AS u, COUNT(*) AS c FROM clicks GROUP BY user_name)")
	want := "line 1, column 8: SHORTEST over an updating input (produced by node GroupAggregate(groupBy=[user_name], select=[user_name, COUNT(*) AS c])) is not supported yet: it cannot take back a retracted row"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
