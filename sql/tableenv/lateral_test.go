package tableenv_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/tableenv"
)

type line struct {
	ID   int64
	Text *string
}

type word struct {
	Word string `sql:"word"`
	Len  int32  `sql:"len"`
}

func split(s *string) []word {
	if s == nil {
		return nil
	}
	var ws []word
	for _, w := range strings.Fields(*s) {
		ws = append(ws, word{w, int32(len(w))})
	}
	return ws
}

func strp(s string) *string { return &s }

type joined struct {
	ID   int64
	Word *string `sql:"w"`
	Len  *int32  `sql:"n"`
}

func lines() []line {
	return []line{{1, strp("a bb")}, {2, strp("")}, {3, nil}, {4, strp("ccc")}}
}

// TestLateralTableForms runs a Go table function in each accepted form.
func TestLateralTableForms(t *testing.T) {
	for _, tc := range []struct{ name, from, want string }{
		{"comma", "lines AS l, LATERAL TABLE(split(l.Text)) AS s(w, n)", "1 a 1\n1 bb 2\n4 ccc 3"},
		{"cross join", "lines CROSS JOIN LATERAL TABLE(split(Text)) AS s(w, n)", "1 a 1\n1 bb 2\n4 ccc 3"},
		{"join on true", "lines JOIN LATERAL TABLE(split(Text)) AS s(w, n) ON TRUE", "1 a 1\n1 bb 2\n4 ccc 3"},
		{"left join", "lines LEFT JOIN LATERAL TABLE(split(Text)) AS s(w, n) ON TRUE", "1 a 1\n1 bb 2\n2 <nil> <nil>\n3 <nil> <nil>\n4 ccc 3"},
		{"comma with where", "lines, LATERAL TABLE(split(Text)) AS s(w, n) WHERE n > 1", "1 bb 2\n4 ccc 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := engine.NewJob("lateral", engine.Config{Parallelism: 2})
			env := tableenv.New(j, tableenv.Options{})
			if err := tableenv.FromStream(env, "lines", engine.FromSlice(j, "lines", lines(), engine.NoWatermarks[line]())); err != nil {
				t.Fatal(err)
			}
			if err := tableenv.TableFunc1(env, "split", split); err != nil {
				t.Fatal(err)
			}
			out, err := tableenv.ToStream[joined](env, "SELECT ID, w, n FROM "+tc.from)
			if err != nil {
				t.Fatal(err)
			}
			got := engine.Collect(out, "collect")
			run(t, j)
			var ls []string
			for _, v := range got.Values() {
				w, n := "<nil>", "<nil>"
				if v.Word != nil {
					w = *v.Word
				}
				if v.Len != nil {
					n = fmt.Sprint(*v.Len)
				}
				ls = append(ls, fmt.Sprintf("%d %s %s", v.ID, w, n))
			}
			slices.Sort(ls)
			if g := strings.Join(ls, "\n"); g != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", g, tc.want)
			}
		})
	}
}

type parsed struct {
	ID int64
	V  int64 `sql:"v"`
}

type parsedN struct {
	ID int64
	V  *int64 `sql:"v"`
}

// TestBadRowsToErrorOutput: a Go scalar function that returns an error
// and one that panics, and a table function that fails: the rows go to
// the error output, the job finishes with every other row.
func TestBadRowsToErrorOutput(t *testing.T) {
	j := engine.NewJob("bad", engine.Config{Parallelism: 2})
	env := tableenv.New(j, tableenv.Options{})
	if err := tableenv.FromStream(env, "lines", engine.FromSlice(j, "lines", lines(), engine.NoWatermarks[line]())); err != nil {
		t.Fatal(err)
	}
	if err := tableenv.ScalarFuncErr1(env, "checked_len", func(s string) (int64, error) {
		if s == "" {
			return 0, errors.New("empty text")
		}
		return int64(len(s)), nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := tableenv.ScalarFunc1(env, "must_id", func(id int64) int64 {
		if id == 4 {
			panic("id 4 is cursed")
		}
		return id
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.RegisterTableFunc("boom", func(id int64) ([]word, error) {
		if id%2 == 0 {
			return nil, fmt.Errorf("even id %d", id)
		}
		return []word{{"x", 1}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	out, err := tableenv.ToStream[parsedN](env, "SELECT must_id(ID) AS ID, checked_len(Text) AS v FROM lines")
	if err != nil {
		t.Fatal(err)
	}
	out2, err := tableenv.ToStream[parsed](env, "SELECT ID, CAST(len AS BIGINT) AS v FROM lines, LATERAL TABLE(boom(ID))")
	if err != nil {
		t.Fatal(err)
	}
	got, got2 := engine.Collect(out, "collect"), engine.Collect(out2, "collect2")
	bad := engine.Collect(env.Errors(), "bad")
	run(t, j)
	// Row 3's Text is NULL: checked_len takes a string (not *string), so
	// it gives NULL without being called.
	var rows []string
	for _, v := range got.Values() {
		n := "NULL"
		if v.V != nil {
			n = fmt.Sprint(*v.V)
		}
		rows = append(rows, fmt.Sprint(v.ID, " ", n))
	}
	slices.Sort(rows)
	if g := strings.Join(rows, ","); g != "1 4,3 NULL" {
		t.Fatalf("scalar rows %s", g)
	}
	rows = nil
	for _, v := range got2.Values() {
		rows = append(rows, fmt.Sprint(v.ID, v.V))
	}
	slices.Sort(rows)
	if g := strings.Join(rows, ","); g != "1 1,3 1" {
		t.Fatalf("table function rows %s", g)
	}
	var errs []string
	for _, b := range bad.Values() {
		errs = append(errs, b.Row+" "+b.Err)
	}
	slices.Sort(errs)
	want := strings.Join([]string{
		"+I[2, ] function BOOM failed: even id 2",
		"+I[2, ] function CHECKED_LEN failed: empty text",
		"+I[4, ccc] function BOOM failed: even id 4",
		"+I[4, ccc] function MUST_ID failed: panic: id 4 is cursed",
	}, "\n")
	if g := strings.Join(errs, "\n"); g != want {
		t.Fatalf("error output\n%s\nwant\n%s", g, want)
	}
}
