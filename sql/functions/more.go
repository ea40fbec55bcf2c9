package functions

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"unicode/utf8"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Collection access, null-safe comparison and the remaining string
// functions Flink documents.

func registerMore(r *Registry) {
	str := types.StringType()
	integer := types.IntType()
	// ITEM(array, i) is array[i] (1-based), ITEM(map, key) is map[key]:
	// NULL when the index is out of range or the key absent.
	r.add("ITEM", "<ARRAY>[<INTEGER>] or <MAP>[<KEY>]", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 2 {
			return nil, false, nil
		}
		ct, kt := args[0].Type, args[1].Type
		switch ct.Kind {
		case types.Array:
			if _, ok := pInteger.accepts(kt); !ok {
				return nil, false, nil
			}
			et := *ct.Elem
			return &Scalar{Result: et.Nullable(), Params: []types.Type{ct, types.BigIntType().WithNullable(kt.IsNullable())},
				Eval: strict(func(a []Value) (Value, error) {
					arr := a[0].R.([]any)
					if a[1].I < 1 || a[1].I > int64(len(arr)) {
						return Null(), nil
					}
					return FromAny(et, arr[a[1].I-1]), nil
				})}, true, nil
		case types.Map:
			key := *ct.Elem
			if !types.CanImplicitCast(kt.Nullable(), key.Nullable()) {
				return nil, false, nil
			}
			vt := *ct.Value
			return &Scalar{Result: vt.Nullable(), Params: []types.Type{ct, key.WithNullable(kt.IsNullable())},
				Eval: strict(func(a []Value) (Value, error) {
					m := a[0].R.(*row.MapValue)
					for i, k := range m.Keys {
						if k != nil && Compare(key, FromAny(key, k), a[1]) == 0 {
							return FromAny(vt, m.Values[i]), nil
						}
					}
					return Null(), nil
				})}, true, nil
		}
		return nil, false, nil
	})
	r.add("CARDINALITY", "CARDINALITY(<ARRAY>|<MAP>|<MULTISET>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 1 {
			return nil, false, nil
		}
		t := args[0].Type
		switch t.Kind {
		case types.Array:
			return &Scalar{Result: integer.WithNullable(t.IsNullable()), Params: []types.Type{t}, Eval: strict(func(a []Value) (Value, error) {
				return Int(int64(len(a[0].R.([]any)))), nil
			})}, true, nil
		case types.Map, types.Multiset:
			multi := t.Kind == types.Multiset
			return &Scalar{Result: integer.WithNullable(t.IsNullable()), Params: []types.Type{t}, Eval: strict(func(a []Value) (Value, error) {
				m := a[0].R.(*row.MapValue)
				if !multi {
					return Int(int64(len(m.Keys))), nil
				}
				var n int64
				for _, c := range m.Values {
					n += c.(int64)
				}
				return Int(n), nil
			})}, true, nil
		}
		return nil, false, nil
	})
	// a IS [NOT] DISTINCT FROM b: = and <> with NULL a value like any
	// other; never NULL.
	for _, not := range []bool{false, true} {
		name := "IS DISTINCT FROM"
		if not {
			name = "IS NOT DISTINCT FROM"
		}
		r.add(name, "<ANY> "+name+" <ANY>", func(c *Context, args []Arg) (*Scalar, bool, error) {
			if len(args) != 2 {
				return nil, false, nil
			}
			if mixesTimeAndNumber(argTypes(args)) {
				return nil, false, nil
			}
			ct, ok := common(args, 0)
			if !ok {
				return nil, false, nil
			}
			return &Scalar{Result: types.BooleanType().AsNotNull(), Params: castAll(args, ct), Eval: func(a []Value) (Value, error) {
				var distinct bool
				switch {
				case a[0].Null || a[1].Null:
					distinct = a[0].Null != a[1].Null
				default:
					distinct = Compare(ct, a[0], a[1]) != 0
				}
				return Bool(distinct != not), nil
			}}, true, nil
		})
	}
	r.simple("LEFT", []param{pString, pInteger}, str, false, func(a []Value) (Value, error) {
		if a[1].I <= 0 {
			return Str(""), nil
		}
		return Str(substring(a[0].S, 1, a[1].I)), nil
	})
	r.simple("RIGHT", []param{pString, pInteger}, str, false, func(a []Value) (Value, error) {
		n := utf8.RuneCountInString(a[0].S)
		if a[1].I <= 0 {
			return Str(""), nil
		}
		if a[1].I >= int64(n) {
			return a[0], nil
		}
		return Str(substring(a[0].S, int64(n)-a[1].I+1, a[1].I)), nil
	})
	r.simple("ASCII", []param{pString}, integer, false, func(a []Value) (Value, error) {
		if a[0].S == "" {
			return Int(0), nil
		}
		return Int(int64(a[0].S[0])), nil
	})
	r.simple("CHR", []param{pInteger}, str, true, func(a []Value) (Value, error) {
		if a[0].I < 0 || a[0].I > 255 {
			return Null(), nil
		}
		return Str(string(rune(a[0].I))), nil
	})
	r.simple("TO_BASE64", []param{pString}, str, false, func(a []Value) (Value, error) {
		return Str(base64.StdEncoding.EncodeToString([]byte(a[0].S))), nil
	})
	r.simple("FROM_BASE64", []param{pString}, str, true, func(a []Value) (Value, error) {
		b, err := base64.StdEncoding.DecodeString(a[0].S)
		if err != nil {
			return Null(), nil
		}
		return Str(string(b)), nil
	})
	r.simple("MD5", []param{pString}, str, false, func(a []Value) (Value, error) {
		h := md5.Sum([]byte(a[0].S))
		return Str(hex.EncodeToString(h[:])), nil
	})
	r.simple("SHA1", []param{pString}, str, false, func(a []Value) (Value, error) {
		h := sha1.Sum([]byte(a[0].S))
		return Str(hex.EncodeToString(h[:])), nil
	})
	r.simple("SHA256", []param{pString}, str, false, func(a []Value) (Value, error) {
		h := sha256.Sum256([]byte(a[0].S))
		return Str(hex.EncodeToString(h[:])), nil
	})
}
