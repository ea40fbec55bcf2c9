package catalog_test

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/types"
)

func exec(t *testing.T, src string) (*catalog.Catalog, error) {
	t.Helper()
	stmts, err := parser.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	c := catalog.New(src)
	for _, st := range stmts {
		if ok, err := c.Exec(st); !ok {
			t.Fatalf("statement %T not handled by the catalog", st)
		} else if err != nil {
			return c, err
		}
	}
	return c, nil
}

func TestCreateTable(t *testing.T) {
	c, err := exec(t, `CREATE TABLE t (id BIGINT NOT NULL, name VARCHAR(10), ts AS TO_TIMESTAMP_LTZ(id, 3),
		WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
		SET 'pipeline.name' = 'p';`)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := c.Lookup("t", diag.Span{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tb.ColumnNames(); len(got) != 3 || got[2] != "ts" {
		t.Fatalf("columns %v", got)
	}
	if !tb.Columns[0].Type.Equal(types.BigIntType().AsNotNull()) || !tb.Columns[1].Type.Equal(types.VarCharType(10)) {
		t.Fatalf("types %v %v", tb.Columns[0].Type, tb.Columns[1].Type)
	}
	if tb.Columns[2].Expr == nil || tb.Watermark == nil || tb.Watermark.Column != "ts" {
		t.Fatalf("computed column or watermark missing: %+v", tb)
	}
	if tb.Factory.Name() != "datagen" || tb.Options["number-of-rows"] != "5" || c.Settings["pipeline.name"] != "p" {
		t.Fatalf("options %v settings %v", tb.Options, c.Settings)
	}
}

func TestOptionErrorsHavePositions(t *testing.T) {
	_, err := exec(t, "CREATE TABLE t (id INT)\nWITH ('connector' = 'print', 'print-identifer' = 'x');")
	var de *diag.Error
	if !errors.As(err, &de) {
		t.Fatalf("want a *diag.Error, got %v", err)
	}
	if de.Span.Start.Line != 2 || de.Span.Start.Col != 30 || de.Hint != "did you mean 'print-identifier'?" {
		t.Fatalf("error %q at %v hint %q", de.Msg, de.Span, de.Hint)
	}
	if _, err := exec(t, "CREATE TABLE t (id INT) WITH ('connector' = 'print'); CREATE TABLE t (id INT) WITH ('connector' = 'print');"); err == nil {
		t.Fatal("a second CREATE TABLE t succeeded")
	}
	if _, err := exec(t, "CREATE TABLE t (id INT) WITH ('connector' = 'print'); CREATE TABLE IF NOT EXISTS t (id INT) WITH ('connector' = 'print');"); err != nil {
		t.Fatalf("IF NOT EXISTS: %v", err)
	}
}
