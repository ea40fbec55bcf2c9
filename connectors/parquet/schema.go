package parquet

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// ErrUnsupportedType is returned for Arrow types the converter cannot write.
var ErrUnsupportedType = errors.New("parquet: unsupported column type")

type colKind uint8

const (
	kBool colKind = iota
	kInt
	kUint
	kFloat32
	kFloat64
	kString
	kBinary
	kDate
	kTimestamp
)

type column struct {
	name     string
	kind     colKind
	bits     int           // integer width
	unit     time.Duration // timestamp unit
	nullable bool
}

// Schema is a validated Arrow schema with its Parquet counterpart.
type Schema struct {
	arrow  *arrow.Schema
	cols   []column
	exact  map[string]int
	folded map[string]int
}

// Arrow returns the Arrow schema.
func (s *Schema) Arrow() *arrow.Schema { return s.arrow }

// NewSchema validates an Arrow schema for JSON conversion.
func NewSchema(as *arrow.Schema) (*Schema, error) {
	if as == nil || as.NumFields() == 0 {
		return nil, errors.New("parquet: schema has no columns")
	}
	s := &Schema{arrow: as, exact: map[string]int{}, folded: map[string]int{}}
	for i, f := range as.Fields() {
		c := column{name: f.Name, nullable: f.Nullable}
		switch t := f.Type.(type) {
		case *arrow.BooleanType:
			c.kind = kBool
		case *arrow.Int8Type:
			c.kind, c.bits = kInt, 8
		case *arrow.Int16Type:
			c.kind, c.bits = kInt, 16
		case *arrow.Int32Type:
			c.kind, c.bits = kInt, 32
		case *arrow.Int64Type:
			c.kind, c.bits = kInt, 64
		case *arrow.Uint8Type:
			c.kind, c.bits = kUint, 8
		case *arrow.Uint16Type:
			c.kind, c.bits = kUint, 16
		case *arrow.Uint32Type:
			c.kind, c.bits = kUint, 32
		case *arrow.Uint64Type:
			c.kind, c.bits = kUint, 64
		case *arrow.Float32Type:
			c.kind = kFloat32
		case *arrow.Float64Type:
			c.kind = kFloat64
		case *arrow.StringType, *arrow.LargeStringType:
			c.kind = kString
		case *arrow.BinaryType, *arrow.LargeBinaryType:
			c.kind = kBinary
		case *arrow.Date32Type:
			c.kind = kDate
		case *arrow.TimestampType:
			c.kind = kTimestamp
			switch t.Unit {
			case arrow.Second, arrow.Millisecond:
				// Parquet has no second unit: seconds are stored as ms.
				c.unit = time.Millisecond
			case arrow.Microsecond:
				c.unit = time.Microsecond
			case arrow.Nanosecond:
				c.unit = time.Nanosecond
			}
		default:
			return nil, fmt.Errorf("%w: column %q has type %s", ErrUnsupportedType, f.Name, f.Type)
		}
		if f.Name == "" {
			return nil, fmt.Errorf("parquet: column %d has no name", i)
		}
		if _, dup := s.exact[f.Name]; dup {
			return nil, fmt.Errorf("parquet: duplicate column %q", f.Name)
		}
		s.exact[f.Name] = i
		if _, dup := s.folded[strings.ToLower(f.Name)]; !dup {
			s.folded[strings.ToLower(f.Name)] = i
		}
		s.cols = append(s.cols, c)
	}
	return s, nil
}

// parquetSchema builds the Parquet schema, in column order.
func (s *Schema) parquetSchema(dict bool) *pq.Schema {
	fields := make([]orderedField, len(s.cols))
	for i, c := range s.cols {
		var n pq.Node
		switch c.kind {
		case kBool:
			n = pq.Leaf(pq.BooleanType)
		case kInt:
			n = pq.Int(c.bits)
		case kUint:
			n = pq.Uint(c.bits)
		case kFloat32:
			n = pq.Leaf(pq.FloatType)
		case kFloat64:
			n = pq.Leaf(pq.DoubleType)
		case kString:
			n = pq.String()
		case kBinary:
			n = pq.Leaf(pq.ByteArrayType)
		case kDate:
			n = pq.Date()
		case kTimestamp:
			u := pq.TimeUnit(pq.Millisecond)
			switch c.unit {
			case time.Microsecond:
				u = pq.Microsecond
			case time.Nanosecond:
				u = pq.Nanosecond
			}
			n = pq.TimestampAdjusted(u, true)
		}
		if dict && c.kind != kBool {
			n = pq.Encoded(n, &pq.RLEDictionary)
		}
		if c.nullable {
			n = pq.Optional(n)
		}
		fields[i] = orderedField{Node: n, name: c.name}
	}
	return pq.NewSchema("schema", orderedGroup(fields))
}

// orderedGroup is a Parquet group that keeps its fields in declaration
// order (parquet.Group sorts them by name), so the file's columns follow
// the Arrow schema.
type orderedGroup []orderedField

type orderedField struct {
	pq.Node
	name string
}

func (f *orderedField) Name() string { return f.name }

func (f *orderedField) Value(base reflect.Value) reflect.Value {
	if base.Kind() == reflect.Interface {
		base = base.Elem()
	}
	if base.Kind() == reflect.Map {
		return base.MapIndex(reflect.ValueOf(f.name))
	}
	return reflect.Value{}
}

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) String() string              { return "group" }
func (g orderedGroup) Type() pq.Type               { return pq.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }
func (g orderedGroup) GoType() reflect.Type        { return reflect.TypeOf(map[string]any{}) }
func (g orderedGroup) Fields() []pq.Field {
	out := make([]pq.Field, len(g))
	for i := range g {
		out[i] = &g[i]
	}
	return out
}

// SchemaFromStruct derives an Arrow schema from a Go struct type (v is a
// struct value or pointer). Field names come from the `json` tag (else the
// Go name); "-" skips a field; pointer fields and `json:",omitempty"` fields
// are nullable. time.Time maps to a millisecond UTC timestamp, []byte to
// binary.
func SchemaFromStruct(v any) (*arrow.Schema, error) {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("parquet: SchemaFromStruct needs a struct, got %T", v)
	}
	var fields []arrow.Field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		ft := sf.Type
		nullable := strings.Contains(opts, "omitempty")
		if ft.Kind() == reflect.Pointer {
			ft, nullable = ft.Elem(), true
		}
		dt, err := arrowType(ft)
		if err != nil {
			return nil, fmt.Errorf("parquet: field %s: %w", sf.Name, err)
		}
		fields = append(fields, arrow.Field{Name: name, Type: dt, Nullable: nullable})
	}
	return arrow.NewSchema(fields, nil), nil
}

var timeType = reflect.TypeOf(time.Time{})

func arrowType(t reflect.Type) (arrow.DataType, error) {
	if t == timeType {
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return arrow.FixedWidthTypes.Boolean, nil
	case reflect.Int8:
		return arrow.PrimitiveTypes.Int8, nil
	case reflect.Int16:
		return arrow.PrimitiveTypes.Int16, nil
	case reflect.Int32:
		return arrow.PrimitiveTypes.Int32, nil
	case reflect.Int, reflect.Int64:
		return arrow.PrimitiveTypes.Int64, nil
	case reflect.Uint8:
		return arrow.PrimitiveTypes.Uint8, nil
	case reflect.Uint16:
		return arrow.PrimitiveTypes.Uint16, nil
	case reflect.Uint32:
		return arrow.PrimitiveTypes.Uint32, nil
	case reflect.Uint, reflect.Uint64:
		return arrow.PrimitiveTypes.Uint64, nil
	case reflect.Float32:
		return arrow.PrimitiveTypes.Float32, nil
	case reflect.Float64:
		return arrow.PrimitiveTypes.Float64, nil
	case reflect.String:
		return arrow.BinaryTypes.String, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return arrow.BinaryTypes.Binary, nil
		}
	}
	return nil, fmt.Errorf("%w: Go type %s", ErrUnsupportedType, t)
}

// Column declares one column in a serialisable form (configuration files,
// table definitions). Type names are case-insensitive and accept the Glue
// (Hive) names Firehose uses as well as Arrow's: boolean|bool,
// tinyint|int8, smallint|int16, int|integer|int32, bigint|int64,
// uint8, uint16, uint32, uint64, float|float32, double|float64,
// string|varchar, binary, date, timestamp (milliseconds) and
// timestamp(s|ms|us|ns).
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable,omitempty"`
}

// SchemaFromColumns builds an Arrow schema from declared columns.
func SchemaFromColumns(cols []Column) (*arrow.Schema, error) {
	if len(cols) == 0 {
		return nil, errors.New("parquet: no columns declared")
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		if c.Name == "" {
			return nil, fmt.Errorf("parquet: column %d has no name", i)
		}
		t, err := columnType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("parquet: column %q: %w", c.Name, err)
		}
		fields[i] = arrow.Field{Name: c.Name, Type: t, Nullable: c.Nullable}
	}
	return arrow.NewSchema(fields, nil), nil
}

func columnType(name string) (arrow.DataType, error) {
	switch strings.ToLower(strings.ReplaceAll(name, " ", "")) {
	case "boolean", "bool":
		return arrow.FixedWidthTypes.Boolean, nil
	case "tinyint", "int8":
		return arrow.PrimitiveTypes.Int8, nil
	case "smallint", "int16":
		return arrow.PrimitiveTypes.Int16, nil
	case "int", "integer", "int32":
		return arrow.PrimitiveTypes.Int32, nil
	case "bigint", "int64":
		return arrow.PrimitiveTypes.Int64, nil
	case "uint8":
		return arrow.PrimitiveTypes.Uint8, nil
	case "uint16":
		return arrow.PrimitiveTypes.Uint16, nil
	case "uint32":
		return arrow.PrimitiveTypes.Uint32, nil
	case "uint64":
		return arrow.PrimitiveTypes.Uint64, nil
	case "float", "float32":
		return arrow.PrimitiveTypes.Float32, nil
	case "double", "float64":
		return arrow.PrimitiveTypes.Float64, nil
	case "string", "varchar":
		return arrow.BinaryTypes.String, nil
	case "binary":
		return arrow.BinaryTypes.Binary, nil
	case "date":
		return arrow.FixedWidthTypes.Date32, nil
	case "timestamp", "timestamp(ms)":
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, nil
	case "timestamp(s)":
		return &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, nil
	case "timestamp(us)":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, nil
	case "timestamp(ns)":
		return &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, nil
	}
	return nil, fmt.Errorf("%w: type %q", ErrUnsupportedType, name)
}
