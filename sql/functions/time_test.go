package functions

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

func mustScalar(t *testing.T, c *Context, name string, args ...Arg) *Scalar {
	t.Helper()
	s, err := Builtins().Scalar(c, name, args)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func eval1(t *testing.T, s *Scalar, args ...Value) Value {
	t.Helper()
	v, err := s.Eval(args)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func lit(t types.Type, v Value) Arg { return Arg{Type: t.AsNotNull(), Const: &v} }

// TestTimeProperties checks, over random timestamps, that DATE_FORMAT and
// TO_TIMESTAMP invert each other, that TIMESTAMPDIFF undoes TIMESTAMPADD,
// and that FLOOR and CEIL bracket a value within one unit, in UTC and in a
// zone with daylight saving.
func TestTimeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	ts3 := types.TimestampType(3)
	str := types.StringType()
	for _, c := range []*Context{{}, {TimeZone: ny}} {
		pat := "yyyy-MM-dd HH:mm:ss.SSS"
		format := mustScalar(t, c, "DATE_FORMAT", Arg{Type: ts3}, lit(str, Str(pat)))
		parse := mustScalar(t, c, "TO_TIMESTAMP", Arg{Type: str}, lit(str, Str(pat)))
		for range 500 {
			ts := row.TimestampFromMillis(rng.Int64N(4e12) - 1e12)
			s := eval1(t, format, TS(ts), Str(pat))
			back := eval1(t, parse, s, Str(pat))
			if back.Null || back.T != ts {
				t.Fatalf("TO_TIMESTAMP(DATE_FORMAT(%v)) = %v via %q", ts, back, s.S)
			}
			for _, u := range []string{"SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"} {
				for _, tt := range []types.Type{ts3, types.TimestampLTZType(3)} {
					checkAddDiffFloor(t, rng, c, tt, u, ts)
				}
			}
		}
	}
}

func checkAddDiffFloor(t *testing.T, rng *rand.Rand, c *Context, ts3 types.Type, u string, ts row.Timestamp) {
	t.Helper()
	{
		n := rng.Int64N(200) - 100
		add := mustScalar(t, c, "TIMESTAMPADD", Arg{Symbol: u}, Arg{Type: types.BigIntType()}, Arg{Type: ts3})
		diff := mustScalar(t, c, "TIMESTAMPDIFF", Arg{Symbol: u}, Arg{Type: ts3}, Arg{Type: ts3})
		base := ts
		if u == "MONTH" || u == "QUARTER" || u == "YEAR" {
			// Clamping at month ends (Jan 31 + 1 MONTH) is not
			// invertible; keep to days every month has.
			y, m, d := row.CivilFromDate(row.DateOf(ts))
			base = row.TimestampOf(row.DateFromCivil(y, m, min(d, 28)), row.TimeOf(ts))
		}
		later := eval1(t, add, Value{}, Int(n), TS(base))
		loc := c.loc()
		landedInGap := ts3.Kind == types.TimestampLTZ && monthUnit(u) &&
			row.TimeOf(row.LocalOf(later.T, loc)) != row.TimeOf(row.LocalOf(base, loc))
		// Months added to an instant whose local time does not exist on
		// the target day move it past the gap; that is not invertible.
		if got := eval1(t, diff, Value{}, TS(base), later); got.I != n && !landedInGap {
			t.Fatalf("TIMESTAMPDIFF(%s, %v, TIMESTAMPADD(%s, %d, ...) = %v) = %d", u, base, u, n, later.T, got.I)
		}
		floor := mustScalar(t, c, "FLOOR", Arg{Type: ts3}, Arg{Symbol: u})
		ceil := mustScalar(t, c, "CEIL", Arg{Type: ts3}, Arg{Symbol: u})
		f := eval1(t, floor, TS(ts), Value{}).T
		cl := eval1(t, ceil, TS(ts), Value{}).T
		if f.Compare(ts) > 0 || cl.Compare(ts) < 0 {
			t.Fatalf("FLOOR/CEIL(%v TO %s) = %v, %v", ts, u, f, cl)
		}
		if f != cl && ts3.Kind == types.Timestamp {
			// (For TIMESTAMP_LTZ a local day need not be 24 hours.)
			if next := eval1(t, add, Value{}, Int(1), TS(f)).T; next != cl {
				t.Fatalf("CEIL(%v TO %s) = %v, want FLOOR + 1 %s = %v", ts, u, cl, u, next)
			}
		}
	}
}
