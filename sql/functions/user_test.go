package functions

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sql/types"
)

// TestUserFunctions: a Clone takes functions that Builtins never sees;
// calls are matched, cast and made strict as AddScalar says.
func TestUserFunctions(t *testing.T) {
	r := Builtins().Clone()
	big := types.BigIntType().AsNotNull()
	if err := r.AddScalar("plus_one", []types.Type{big}, big, func(a []Value) (Value, error) {
		if a[0].I < 0 {
			return Value{}, &UserError{Func: "PLUS_ONE", Err: errors.New("negative")}
		}
		return Int(a[0].I + 1), nil
	}); err != nil {
		t.Fatal(err)
	}
	if Builtins().Has("PLUS_ONE") || !r.Has("plus_one") {
		t.Fatal("Clone shares its functions with Builtins")
	}
	if err := r.AddScalar("PLUS_ONE", nil, big, nil); err == nil || err.Error() != "function PLUS_ONE is already registered" {
		t.Fatalf("a second registration: %v", err)
	}
	s, err := r.Scalar(nil, "plus_one", []Arg{{Type: types.IntType()}})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Result.IsNullable() || s.Params[0].Kind != types.BigInt || !s.Params[0].IsNullable() {
		t.Fatalf("a nullable INT argument: result %v, params %v", s.Result, s.Params)
	}
	if v, err := s.Eval([]Value{Null()}); err != nil || !v.Null {
		t.Fatalf("NULL argument: %v %v", v, err)
	}
	if v, err := s.Eval([]Value{Int(41)}); err != nil || v.I != 42 {
		t.Fatalf("41: %v %v", v, err)
	}
	if _, err := s.Eval([]Value{Int(-1)}); !IsUserError(err) {
		t.Fatalf("a failing call: %v", err)
	}
	_, err = r.Scalar(nil, "plus_one", []Arg{{Type: types.StringType()}})
	if err == nil || !strings.Contains(err.Error(), "Supported form(s): 'PLUS_ONE(<BIGINT>)'") {
		t.Fatalf("a STRING argument: %v", err)
	}
	if err := r.AddAggregate("agg_one", []types.Type{big}, big, func() Accumulator { return &countAcc{} }); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Aggregate("agg_one", []types.Type{types.StringType()}, false); err == nil || err.Error() != "Cannot apply 'AGG_ONE' to arguments of type 'AGG_ONE(<STRING>)'. Supported form(s): 'AGG_ONE(<BIGINT>)'" {
		t.Fatalf("an aggregate's STRING argument: %v", err)
	}
	if _, err := Builtins().Aggregate("agg_one", []types.Type{big}, false); err == nil {
		t.Fatal("Builtins has the clone's aggregate")
	}
}
