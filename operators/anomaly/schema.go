package anomaly

import (
	"fmt"
	"math"
	"strings"
)

// ColumnType is the SQL type of a column, as a planner sees it.
type ColumnType uint8

// The column types. The numeric ones are those KDA's anomaly functions took
// as dimensions (DOUBLE, REAL/FLOAT, INTEGER, BIGINT, SMALLINT, TINYINT).
// DECIMAL is refused at planning time, as KDA refused it: cast to DOUBLE.
const (
	TypeDouble ColumnType = iota + 1
	TypeReal
	TypeInteger
	TypeBigint
	TypeSmallint
	TypeTinyint
	TypeDecimal
	TypeVarchar
	TypeBoolean
	TypeTimestamp
	TypeOther
)

var typeNames = map[ColumnType]string{
	TypeDouble: "DOUBLE", TypeReal: "REAL", TypeInteger: "INTEGER", TypeBigint: "BIGINT",
	TypeSmallint: "SMALLINT", TypeTinyint: "TINYINT", TypeDecimal: "DECIMAL",
	TypeVarchar: "VARCHAR", TypeBoolean: "BOOLEAN", TypeTimestamp: "TIMESTAMP", TypeOther: "OTHER",
}

func (t ColumnType) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("ColumnType(%d)", uint8(t))
}

// Numeric reports whether columns of this type are dimensions.
func (t ColumnType) Numeric() bool { return t >= TypeDouble && t <= TypeTinyint }

// Column is a named, typed column.
type Column struct {
	Name string
	Type ColumnType
}

// Schema is the ordered columns of a stream, fixed at planning time.
type Schema []Column

// Row is one record: Row[i] holds the value of Schema[i]. Numeric columns
// hold a Go number (float64, float32 or any integer type); other columns
// hold whatever the planner uses and are passed through untouched.
type Row []any

// Output column names, as KDA named them; ANOMALY_PROBABILITY is Sluice's
// calibrated output.
const (
	ColAnomalyScore       = "ANOMALY_SCORE"
	ColAnomalyExplanation = "ANOMALY_EXPLANATION"
	ColAnomalyProbability = "ANOMALY_PROBABILITY"
	ColHotspotsResult     = "HOTSPOTS_RESULT"
)

// dimensions validates a schema for an anomaly function and returns the
// indices of its numeric columns: at least one, at most MaxDimensions, no
// DECIMAL, no duplicate or empty names, and no clash with the outputs the
// function appends.
func dimensions(s Schema, outputs ...string) ([]int, error) {
	var dims []int
	seen := map[string]bool{}
	for i, c := range s {
		if c.Name == "" {
			return nil, fmt.Errorf("anomaly: column %d has no name", i)
		}
		up := strings.ToUpper(c.Name)
		if seen[up] {
			return nil, fmt.Errorf("anomaly: duplicate column %q", c.Name)
		}
		seen[up] = true
		switch {
		case c.Type == TypeDecimal:
			return nil, fmt.Errorf("anomaly: column %q is DECIMAL, which the anomaly functions do not take; cast it to DOUBLE", c.Name)
		case c.Type.Numeric():
			dims = append(dims, i)
		case c.Type < TypeDouble || c.Type > TypeOther:
			return nil, fmt.Errorf("anomaly: column %q has unknown type %v", c.Name, c.Type)
		}
	}
	for _, o := range outputs {
		if seen[o] {
			return nil, fmt.Errorf("anomaly: input column %q clashes with the output column of that name", o)
		}
	}
	switch {
	case len(dims) == 0:
		return nil, fmt.Errorf("anomaly: no numeric column to score (types %s)", numericTypes())
	case len(dims) > MaxDimensions:
		return nil, fmt.Errorf("anomaly: %d numeric columns, at most %d", len(dims), MaxDimensions)
	}
	return dims, nil
}

func numericTypes() string {
	var names []string
	for t := TypeDouble; t <= TypeTinyint; t++ {
		names = append(names, t.String())
	}
	return strings.Join(names, ", ")
}

// extract copies the numeric columns of row into dst, or says why the row
// must go to the error output.
func extract(s Schema, dims []int, row Row, dst []float64) error {
	if len(row) != len(s) {
		return fmt.Errorf("%w: %d values for %d columns", ErrBadRecord, len(row), len(s))
	}
	for k, i := range dims {
		v, ok := toFloat(row[i])
		if !ok {
			return fmt.Errorf("%w: column %q holds %T, not a number", ErrBadRecord, s[i].Name, row[i])
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: column %q is %v", ErrBadRecord, s[i].Name, v)
		}
		dst[k] = v
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// intArg and friends convert a SQL literal argument to a parameter.
func intArg(name string, v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int32:
		return int(x), nil
	case int64:
		if x < math.MinInt32 || x > math.MaxInt32 {
			return 0, fmt.Errorf("anomaly: %s %d out of range", name, x)
		}
		return int(x), nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
			return 0, fmt.Errorf("anomaly: %s must be an integer, got %v", name, x)
		}
		return int(x), nil
	}
	return 0, fmt.Errorf("anomaly: %s must be an integer, got %T", name, v)
}

func floatArg(name string, v any) (float64, error) {
	f, ok := toFloat(v)
	if !ok {
		return 0, fmt.Errorf("anomaly: %s must be a number, got %T", name, v)
	}
	return f, nil
}

func boolArg(name string, v any) (bool, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return false, fmt.Errorf("anomaly: %s must be a boolean, got %T", name, v)
}
