package tableenv_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/tableenv"
)

type click struct {
	User string `sql:"user_name"`
	URL  string
	N    int64
}

func clicks(n int) []click {
	var cs []click
	for i := range n {
		cs = append(cs, click{User: fmt.Sprintf("u%d", i%3), URL: fmt.Sprintf("/p/%d", i%5), N: int64(i)})
	}
	return cs
}

// clickTime is click i's event time: 100 ms apart, up to 150 ms out of
// order.
func clickTime(c click) int64 { return c.N*100 - (c.N*7919)%150 }

func run(t *testing.T, j *engine.Job) {
	t.Helper()
	if err := j.Execute(context.Background()); err != nil {
		t.Fatalf("execute: %v", err)
	}
}

type projected struct {
	User  string `sql:"user_name"`
	Upper string `sql:"shouted"`
	N     int64
}

func TestScalarFunctionInQuery(t *testing.T) {
	j := engine.NewJob("scalar", engine.Config{Parallelism: 2})
	env := tableenv.New(j, tableenv.Options{})
	src := engine.FromSlice(j, "clicks", clicks(10), engine.NoWatermarks[click]())
	if err := tableenv.FromStream(env, "clicks", src); err != nil {
		t.Fatal(err)
	}
	if err := tableenv.ScalarFunc2(env, "shout", func(s string, n int64) string { return strings.ToUpper(s) + strings.Repeat("!", int(n%3)) }); err != nil {
		t.Fatal(err)
	}
	out, err := tableenv.ToStream[projected](env, "SELECT user_name, shout(URL, N) AS shouted, N FROM clicks WHERE N >= 5")
	if err != nil {
		t.Fatal(err)
	}
	got := engine.Collect(out, "collect")
	run(t, j)
	vs := got.Values()
	slices.SortFunc(vs, func(a, b projected) int { return int(a.N - b.N) })
	var lines []string
	for _, v := range vs {
		lines = append(lines, fmt.Sprintf("%s %s %d", v.User, v.Upper, v.N))
	}
	want := "u2 /P/0!! 5\nu0 /P/1 6\nu1 /P/2! 7\nu2 /P/3!! 8\nu0 /P/4 9"
	if g := strings.Join(lines, "\n"); g != want {
		t.Fatalf("got\n%s\nwant\n%s", g, want)
	}
}
