package tableenv

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// goType is one Go type of the type map and its conversions to and from
// SQL values.
type goType struct {
	t    reflect.Type
	sql  types.Type // NOT NULL unless t is a pointer
	toV  func(reflect.Value) functions.Value
	from func(functions.Value) reflect.Value
}

var timeType = reflect.TypeFor[time.Time]()

// supported is the type map, for the errors.
const supported = "bool (BOOLEAN), int32 (INT), int64 (BIGINT), float64 (DOUBLE), string (STRING), time.Time (TIMESTAMP_LTZ(3)), or a pointer to one of them for a nullable column"

// typeOf maps a Go type to its SQL type: bool BOOLEAN, int32 INT, int64
// BIGINT, float64 DOUBLE, string STRING, time.Time TIMESTAMP_LTZ(3), each
// NOT NULL; a pointer to one of them is the nullable type.
func typeOf(t reflect.Type) (goType, error) {
	if t.Kind() == reflect.Pointer {
		if t.Elem().Kind() == reflect.Pointer {
			return goType{}, fmt.Errorf("type %s is not supported: want %s", t, supported)
		}
		base, err := typeOf(t.Elem())
		if err != nil {
			return goType{}, fmt.Errorf("type %s is not supported: want %s", t, supported)
		}
		return goType{
			t:   t,
			sql: base.sql.Nullable(),
			toV: func(v reflect.Value) functions.Value {
				if v.IsNil() {
					return functions.Null()
				}
				return base.toV(v.Elem())
			},
			from: func(x functions.Value) reflect.Value {
				if x.Null {
					return reflect.Zero(t)
				}
				p := reflect.New(t.Elem())
				p.Elem().Set(base.from(x))
				return p
			},
		}, nil
	}
	g := goType{t: t}
	switch {
	case t == timeType:
		g.sql = types.TimestampLTZType(3)
		g.toV = func(v reflect.Value) functions.Value {
			ts := row.TimestampFromTime(v.Interface().(time.Time))
			ts.Nanos = 0 // TIMESTAMP_LTZ(3)
			return functions.TS(ts)
		}
		g.from = func(x functions.Value) reflect.Value { return reflect.ValueOf(x.T.Time()) }
	case t.Kind() == reflect.Bool:
		g.sql = types.BooleanType()
		g.toV = func(v reflect.Value) functions.Value { return functions.Bool(v.Bool()) }
		g.from = func(x functions.Value) reflect.Value { return reflect.ValueOf(x.I != 0).Convert(t) }
	case t.Kind() == reflect.Int32:
		g.sql = types.IntType()
		g.toV = func(v reflect.Value) functions.Value { return functions.Int(v.Int()) }
		g.from = func(x functions.Value) reflect.Value { return reflect.ValueOf(int32(x.I)).Convert(t) }
	case t.Kind() == reflect.Int64:
		g.sql = types.BigIntType()
		g.toV = func(v reflect.Value) functions.Value { return functions.Int(v.Int()) }
		g.from = func(x functions.Value) reflect.Value { return reflect.ValueOf(x.I).Convert(t) }
	case t.Kind() == reflect.Float64:
		g.sql = types.DoubleType()
		g.toV = func(v reflect.Value) functions.Value { return functions.Float(v.Float()) }
		g.from = func(x functions.Value) reflect.Value { return reflect.ValueOf(x.F).Convert(t) }
	case t.Kind() == reflect.String:
		g.sql = types.StringType()
		g.toV = func(v reflect.Value) functions.Value { return functions.Str(v.String()) }
		g.from = func(x functions.Value) reflect.Value { return reflect.ValueOf(x.S).Convert(t) }
	default:
		return goType{}, fmt.Errorf("type %s is not supported: want %s", t, supported)
	}
	g.sql = g.sql.AsNotNull()
	return g, nil
}

// accepts reports whether a column of SQL type c can be read into g:
// the same type (any CHAR/VARCHAR into string; TIMESTAMP, read at UTC,
// or TIMESTAMP_LTZ of any precision into time.Time), and a nullable
// column only into a pointer.
func (g goType) accepts(c types.Type) bool {
	if c.IsNullable() && !g.sql.IsNullable() {
		return false
	}
	switch g.sql.Kind {
	case types.VarChar:
		return c.IsCharString()
	case types.TimestampLTZ:
		return c.IsTimestamp()
	}
	return c.Kind == g.sql.Kind
}

// field is one column of a struct type.
type field struct {
	name  string // the column's
	index int    // the struct field's
	goType
}

// schemaOf is the columns of struct type t: its exported fields, named
// by a `sql:"name"` tag or the field name (`sql:"-"` skips a field).
func schemaOf(t reflect.Type) ([]field, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("type %s is not a struct: a table's rows are structs, one column per exported field", t)
	}
	var fs []field
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name := sf.Name
		if tag, ok := sf.Tag.Lookup("sql"); ok {
			if tag == "-" {
				continue
			}
			if tag = strings.TrimSpace(tag); tag != "" {
				name = tag
			}
		}
		g, err := typeOf(sf.Type)
		if err != nil {
			return nil, fmt.Errorf("field %s.%s: %w", t, sf.Name, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("field %s.%s: column name %q is taken by another field", t, sf.Name, name)
		}
		seen[name] = true
		fs = append(fs, field{name: name, index: i, goType: g})
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("type %s has no exported fields: a table needs at least one column", t)
	}
	return fs, nil
}
