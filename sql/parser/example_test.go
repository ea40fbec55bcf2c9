package parser_test

import (
	"fmt"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/parser"
)

func ExampleParse() {
	stmts, err := parser.Parse(`
		CREATE TABLE clicks (user_id BIGINT, ts TIMESTAMP(3),
		  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
		WITH ('connector' = 'datagen');
		select user_id, count(*) from table(tumble(table clicks, descriptor(ts), interval '1' minutes))
		group by user_id, window_start, window_end`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(ast.FormatScript(stmts))
	// Output:
	// CREATE TABLE clicks (user_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'datagen');
	// SELECT user_id, count(*) FROM TABLE(tumble(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY user_id, window_start, window_end;
}

func ExampleParse_error() {
	_, err := parser.Parse("SELECT a, b + ) FROM t")
	fmt.Println(err)
	// Output:
	// line 1, column 15: unexpected ")", expected an expression
	//   SELECT a, b + ) FROM t
	//                 ^
}
