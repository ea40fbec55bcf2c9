package catalog

import (
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/types"
)

// convertRow is a ROW<name type, ...> (or ROW(name type, ...)) column
// type: its fields' types, each converted as a column's.
func convertRow(src string, at *ast.Type) (types.Type, error) {
	fs := make([]types.Field, 0, len(at.Fields))
	seen := map[string]bool{}
	for _, f := range at.Fields {
		if seen[f.Name.Name] {
			return types.Type{}, diag.New(src, f.Name.Span(), "Field name '%s' is given twice in ROW type", f.Name.Name)
		}
		seen[f.Name.Name] = true
		ft, err := ConvertType(src, f.Type)
		if err != nil {
			return types.Type{}, err
		}
		d := ""
		if f.Comment != nil {
			d = f.Comment.Value
		}
		fs = append(fs, types.Field{Name: f.Name.Name, Type: ft, Description: d})
	}
	return types.RowType(fs...), nil
}
