package parser

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
)

// gen writes random but valid SQL from a small grammar: every operator,
// special form and clause, nested at random and parenthesised at random, so
// the printer's parentheses and keyword choices meet shapes no golden file
// lists.
type gen struct {
	r *rand.Rand
	b strings.Builder
}

func (g *gen) w(s ...string) {
	for _, x := range s {
		g.b.WriteString(x)
	}
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) name() {
	g.w(g.pick("a", "b", "t.c", "`value`", `"Q"`, "x.y.z", "data", "ROWTIME", "key"))
}

func (g *gen) expr(d int) {
	if d <= 0 {
		switch g.r.IntN(6) {
		case 0:
			g.name()
		case 1:
			g.w(g.pick("1", "2.5", ".5", "1e3", "0"))
		case 2:
			g.w(g.pick("'s'", "'it''s'", "''", "X'0A'"))
		case 3:
			g.w(g.pick("TRUE", "FALSE", "NULL", "UNKNOWN", "?", "CURRENT_TIMESTAMP"))
		case 4:
			g.w(g.pick("INTERVAL '5' SECOND", "INTERVAL '1:30' MINUTE TO SECOND", "INTERVAL -'2' DAYS", "DATE '2024-01-01'", "TIMESTAMP '2024-01-01 00:00:00'"))
		default:
			g.name()
		}
		return
	}
	d--
	switch g.r.IntN(24) {
	case 0, 1, 2, 3:
		g.operand(d)
		g.w(" ", g.pick("+", "-", "*", "/", "%", "||", "=", "<>", "!=", "<", "<=", ">", ">=", "AND", "OR"), " ")
		g.operand(d)
	case 4:
		g.w(g.pick("-", "+", "NOT "))
		g.operand(d)
	case 5:
		g.w("(")
		g.operand(d)
		g.w(")")
	case 6:
		g.operand(d)
		g.w(g.pick(" IS NULL", " IS NOT NULL", " IS TRUE", " IS NOT FALSE", " IS UNKNOWN", " IS JSON", " IS NOT JSON ARRAY"))
	case 7:
		g.operand(d)
		g.w(g.pick(" IS DISTINCT FROM ", " IS NOT DISTINCT FROM "))
		g.operand(d)
	case 8:
		g.operand(d)
		g.w(g.pick(" BETWEEN ", " NOT BETWEEN ", " BETWEEN SYMMETRIC "))
		g.operand(d)
		g.w(" AND ")
		g.operand(d)
	case 9:
		g.operand(d)
		g.w(g.pick(" IN (", " NOT IN ("))
		g.operand(d)
		g.w(", ")
		g.operand(d)
		g.w(")")
	case 10:
		g.operand(d)
		g.w(g.pick(" LIKE ", " NOT LIKE ", " SIMILAR TO "))
		g.operand(d)
		if g.r.IntN(2) == 0 {
			g.w(" ESCAPE ")
			g.operand(d)
		}
	case 11:
		g.w("CASE ")
		if g.r.IntN(2) == 0 {
			g.operand(d)
			g.w(" ")
		}
		g.w("WHEN ")
		g.operand(d)
		g.w(" THEN ")
		g.operand(d)
		if g.r.IntN(2) == 0 {
			g.w(" ELSE ")
			g.operand(d)
		}
		g.w(" END")
	case 12:
		g.w(g.pick("CAST(", "TRY_CAST("))
		g.operand(d)
		g.w(" AS ", g.pick("INT", "DECIMAL(10, 2)", "ARRAY<STRING>", "ROW<a INT, b STRING>", "TIMESTAMP(3)"), ")")
	case 13:
		g.w(g.pick("f(", "COUNT(", "cat.db.fn(", "SUM(DISTINCT ", "LOWER("))
		g.operand(d)
		if g.r.IntN(2) == 0 {
			g.w(", ")
			g.operand(d)
		}
		g.w(")")
		switch g.r.IntN(4) {
		case 0:
			g.w(" FILTER (WHERE ")
			g.operand(d)
			g.w(")")
		case 1:
			g.w(" OVER (PARTITION BY ")
			g.operand(d)
			g.w(" ORDER BY ")
			g.operand(d)
			g.w(g.pick("", " DESC", " ROWS BETWEEN 2 PRECEDING AND CURRENT ROW"), ")")
		case 2:
			g.w(" OVER w")
		}
	case 14:
		g.operand(d)
		g.w("[")
		g.operand(d)
		g.w("]")
	case 15:
		g.w("(")
		g.operand(d)
		g.w(").f")
	case 16:
		open := g.pick("ROW(", "ARRAY[", "MAP[")
		g.w(open)
		g.operand(d)
		g.w(", ")
		g.operand(d)
		if open == "ROW(" {
			g.w(")")
		} else {
			g.w("]")
		}
	case 17:
		g.w("(")
		g.operand(d)
		g.w(", ")
		g.operand(d)
		g.w(")")
	case 18:
		open := g.pick("EXTRACT(HOUR FROM ", "FLOOR(", "CEIL(", "TRIM(BOTH 'x' FROM ", "SUBSTRING(", "POSITION('a' IN ")
		g.w(open)
		g.operand(d)
		switch open {
		case "FLOOR(", "CEIL(":
			g.w(g.pick(" TO MINUTE)", ")"))
		case "SUBSTRING(":
			g.w(" FROM 2 FOR 3)")
		default:
			g.w(")")
		}
	case 19:
		g.w(g.pick("EXISTS (", "(", "ARRAY("))
		g.query(d)
		g.w(")")
	case 20:
		g.operand(d)
		g.w(g.pick(" = ANY (", " > ALL (", " IN ("))
		g.query(d)
		g.w(")")
	case 21:
		g.w("JSON_VALUE(")
		g.operand(d)
		g.w(", '$.a'", g.pick("", " RETURNING INT", " DEFAULT 1 ON EMPTY"), ")")
	case 22:
		g.w("(")
		g.operand(d)
		g.w(" - ")
		g.operand(d)
		g.w(") SECOND")
	default:
		g.w("STEP(")
		g.operand(d)
		g.w(" BY INTERVAL '1' MINUTE)")
	}
}

// operand writes an expression in parentheses (a leaf without), so the
// generated text parses to the tree it was built as whatever the
// precedence: the printer must then find which parentheses it needs.
func (g *gen) operand(d int) {
	if d <= 0 {
		g.expr(0)
		return
	}
	g.w("(")
	g.expr(d)
	g.w(")")
}

func (g *gen) table(d int) {
	switch g.r.IntN(7) {
	case 0:
		g.w("(")
		g.query(d - 1)
		g.w(")")
	case 1:
		g.w("TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), ")
		g.expr(0)
		g.w("))")
	case 2:
		g.w("UNNEST(")
		g.expr(d - 1)
		g.w(")")
	case 3:
		if d > 0 {
			g.w("(")
			g.table(d - 1)
			g.w(" JOIN ")
			g.table(d - 1)
			g.w(" ON ")
			g.expr(d - 1)
			g.w(")")
		} else {
			g.name()
		}
	default:
		g.w(g.pick("t", "cat.db.t", "`x y`", `"S"`))
		if g.r.IntN(4) == 0 {
			g.w(" FOR SYSTEM_TIME AS OF ")
			g.expr(0)
		}
	}
	if g.r.IntN(2) == 0 {
		g.w(g.pick(" AS q", " q", " AS q (c1, c2)"))
	}
}

func (g *gen) query(d int) {
	if d < 0 {
		d = 0
	}
	g.body(d)
	if g.r.IntN(4) == 0 {
		g.w(g.pick(" UNION ALL ", " INTERSECT ", " EXCEPT "))
		if g.r.IntN(2) == 0 {
			g.w("(")
			g.query(d - 1)
			g.w(")")
		} else {
			g.body(d - 1)
		}
	}
	if g.r.IntN(4) == 0 {
		g.w(" ORDER BY ")
		g.expr(d)
		g.w(g.pick("", " DESC NULLS LAST", " LIMIT 5"))
	}
}

func (g *gen) body(d int) {
	if d < 0 {
		d = 0
	}
	if g.r.IntN(6) == 0 {
		g.w("VALUES (")
		g.expr(d)
		g.w("), (")
		g.expr(d)
		g.w(")")
		return
	}
	g.w("SELECT ", g.pick("", "DISTINCT ", "STREAM "))
	g.expr(d)
	g.w(g.pick("", " AS x", " y"))
	if g.r.IntN(3) > 0 {
		g.w(" FROM ")
		g.table(d)
		for g.r.IntN(3) == 0 {
			sep := g.pick(", ", " LEFT JOIN ", " JOIN ")
			g.w(sep)
			g.table(d)
			if sep != ", " {
				g.w(" ON ")
				g.expr(d)
			}
		}
	}
	if g.r.IntN(2) == 0 {
		g.w(" WHERE ")
		g.expr(d)
	}
	if g.r.IntN(3) == 0 {
		g.w(" GROUP BY ")
		g.expr(d)
		if g.r.IntN(2) == 0 {
			g.w(" HAVING ")
			g.expr(d)
		}
	}
}

// TestRandomRoundTrip parses generated SQL and requires the round trip to
// hold for each statement.
func TestRandomRoundTrip(t *testing.T) {
	seed := testseed.Seed(t)
	r := rand.New(rand.NewPCG(seed, seed>>1|1))
	n := 20000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		maxDepth := 1 + i%4
		g := &gen{r: r}
		g.query(maxDepth)
		src := g.b.String()
		stmts, err := Parse(src)
		if err != nil {
			t.Fatalf("seed %d, case %d: generated SQL does not parse:\n%s\n%v", seed, i, src, err)
		}
		checkRoundTrip(t, fmt.Sprintf("seed %d, case %d", seed, i), src, stmts)
		for _, s := range stmts {
			checkSpans(t, src, s)
		}
	}
}
