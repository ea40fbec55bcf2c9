package tableenv_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/tableenv"
)

type cents int64

type allTypes struct {
	ID   int64   `sql:"id"`
	B    bool    `sql:"b"`
	I    int32   `sql:"i"`
	F    float64 `sql:"f"`
	S    string  `sql:"s"`
	T    time.Time
	C    cents    `sql:"c"`
	PB   *bool    `sql:"pb"`
	PI   *int32   `sql:"pi"`
	PL   *int64   `sql:"pl"`
	PF   *float64 `sql:"pf"`
	PS   *string  `sql:"ps"`
	PT   *time.Time
	skip int64
}

func ptr[T any](v T) *T { return &v }

// TestTypeRoundTrip: every type of the type map, NULLs included, through
// a table, Go identity functions of each type and back into the struct.
func TestTypeRoundTrip(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123).UTC()
	in := []allTypes{
		{ID: 1, B: true, I: -7, F: 2.5, S: "héllo", T: at, C: 99, PB: ptr(false), PI: ptr(int32(3)), PL: ptr(int64(-4)), PF: ptr(0.125), PS: ptr(""), PT: ptr(at.Add(time.Hour))},
		{ID: 2, T: time.UnixMilli(0).UTC()},
	}
	j := engine.NewJob("types", engine.Config{Parallelism: 2})
	env := tableenv.New(j, tableenv.Options{})
	must(t, tableenv.FromStream(env, "t", engine.FromSlice(j, "t", in, engine.NoWatermarks[allTypes]())))
	must(t, tableenv.ScalarFunc1(env, "id_b", func(x bool) bool { return x }))
	must(t, tableenv.ScalarFunc1(env, "id_i", func(x int32) int32 { return x }))
	must(t, tableenv.ScalarFunc1(env, "id_f", func(x float64) float64 { return x }))
	must(t, tableenv.ScalarFunc1(env, "id_s", func(x string) string { return x }))
	must(t, tableenv.ScalarFunc1(env, "id_t", func(x time.Time) time.Time { return x }))
	must(t, tableenv.ScalarFunc1(env, "id_c", func(x cents) cents { return x }))
	must(t, tableenv.ScalarFunc1(env, "id_pt", func(x *time.Time) *time.Time { return x }))
	must(t, tableenv.ScalarFunc1(env, "id_ps", func(x *string) *string { return x }))
	out, err := tableenv.ToStream[allTypes](env, "SELECT id, id_b(b) AS b, id_i(i) AS i, id_f(f) AS f, id_s(s) AS s, id_t(T) AS T, id_c(c) AS c, pb, pi, pl, pf, id_ps(ps) AS ps, id_pt(PT) AS PT FROM t")
	if err != nil {
		t.Fatal(err)
	}
	got := engine.Collect(out, "collect")
	run(t, j)
	vs := got.Values()
	slices.SortFunc(vs, func(a, b allTypes) int { return int(a.ID - b.ID) })
	if !reflect.DeepEqual(vs, in) {
		t.Fatalf("got\n%s\nwant\n%s", show(vs), show(in))
	}
}

func show(vs []allTypes) string {
	s := ""
	for _, v := range vs {
		s += fmt.Sprintf("%+v\n", v)
	}
	return s
}
