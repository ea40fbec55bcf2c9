package firehose

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// keyEvaluator computes partitionKeyFromQuery values with expr-lang
// expressions over a record's top-level JSON fields. Programs are
// immutable; evaluation allocates its own VM state per call.
type keyEvaluator struct {
	names []string
	progs []*vm.Program
}

func compileKeys(keys map[string]string) (*keyEvaluator, error) {
	ke := &keyEvaluator{}
	for name := range keys {
		ke.names = append(ke.names, name)
	}
	sort.Strings(ke.names)
	for _, name := range ke.names {
		p, err := expr.Compile(keys[name], expr.AllowUndefinedVariables())
		if err != nil {
			return nil, cfgErr("Partitioning.Keys[%q] = %q: %v", name, keys[name], err)
		}
		ke.progs = append(ke.progs, p)
	}
	return ke, nil
}

// eval returns the key values for one record, or an error for records
// that are not JSON objects or whose keys are null or not scalars.
func (ke *keyEvaluator) eval(data []byte) (map[string]string, error) {
	var env map[string]any
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("record is not a JSON object: %v", err)
	}
	out := make(map[string]string, len(ke.names))
	for i, name := range ke.names {
		v, err := expr.Run(ke.progs[i], env)
		if err != nil {
			return nil, fmt.Errorf("partition key %q: %v", name, err)
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case float64:
			s = strconv.FormatFloat(x, 'f', -1, 64)
		case int:
			s = strconv.Itoa(x)
		case int64:
			s = strconv.FormatInt(x, 10)
		case bool:
			s = strconv.FormatBool(x)
		case nil:
			return nil, fmt.Errorf("partition key %q evaluated to null", name)
		default:
			return nil, fmt.Errorf("partition key %q evaluated to a %T, not a scalar", name, v)
		}
		if s == "" {
			return nil, fmt.Errorf("partition key %q evaluated to an empty string", name)
		}
		out[name] = s
	}
	return out, nil
}
