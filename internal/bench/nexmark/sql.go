package nexmark

// The SQL form of the queries: sql/qN.sql, the Flink nexmark suite's text
// (departures noted at the top of each file), over the suite's table and
// views (sql/ddl.sql) on the nexmark connector.

import (
	"context"
	"embed"
	"fmt"
	"strconv"
	"strings"

	nx "github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// SQLText is query name's SQL file, without the table and views.
func SQLText(name string) (string, error) {
	b, err := sqlFiles.ReadFile("sql/" + name + ".sql")
	if err != nil {
		return "", fmt.Errorf("nexmark: no SQL form of %s: %w", name, err)
	}
	return string(b), nil
}

// SQLScript is the whole script of query name over cfg's events: the
// suite's table on the nexmark connector with the generator's options,
// its views, and the query with its blackhole sink.
func SQLScript(name string, gen nx.Config, events int64, wallRate float64) (string, error) {
	q, err := SQLText(name)
	if err != nil {
		return "", err
	}
	ddl, err := sqlFiles.ReadFile("sql/ddl.sql")
	if err != nil {
		return "", err
	}
	g := gen.WithDefaults()
	opt := func(k string, v int64) string { return fmt.Sprintf("'%s' = '%d'", k, v) }
	opts := []string{
		opt("events.num", events), opt("seed", int64(g.Seed)),
		opt("first-event.rate", g.EventsPerSecond), opt("next-event.rate", g.EventsPerSecond),
		opt("first-event.time", g.BaseTime),
		opt("person.proportion", g.PersonProportion), opt("auction.proportion", g.AuctionProportion),
		opt("bid.proportion", g.BidProportion),
		opt("bid.hot-ratio.auctions", g.HotAuctionRatio), opt("bid.hot-ratio.bidders", g.HotBiddersRatio),
		opt("auction.hot-ratio.sellers", g.HotSellersRatio),
		fmt.Sprintf("'person.avg-size' = '%db'", g.AvgPersonByteSize),
		fmt.Sprintf("'auction.avg-size' = '%db'", g.AvgAuctionByteSize),
		fmt.Sprintf("'bid.avg-size' = '%db'", g.AvgBidByteSize),
	}
	if wallRate > 0 {
		if float64(int64(wallRate)) != wallRate || int64(wallRate) != g.EventsPerSecond {
			return "", fmt.Errorf("nexmark: the SQL form limits the wall-clock rate to the event rate only ('rate.limited'), not %g/s", wallRate)
		}
		opts = append(opts, "'rate.limited' = 'true'")
	}
	return strings.Replace(string(ddl), "${OPTIONS}", strings.Join(opts, ",\n    "), 1) + "\n" + q, nil
}

// sqlFunctions are the functions the queries call that the suite defines
// in Java: q14's count_char(s, c), the number of times c occurs in s.
func sqlFunctions() (*functions.Registry, error) {
	reg := functions.Builtins().Clone()
	err := reg.AddScalar("count_char", []types.Type{types.StringType().AsNotNull(), types.StringType().AsNotNull()}, types.BigIntType().AsNotNull(),
		func(vs []functions.Value) (functions.Value, error) {
			s, c := vs[0].S, vs[1].S
			if c == "" {
				return functions.Int(0), nil
			}
			return functions.Int(int64(strings.Count(s, c))), nil
		})
	return reg, err
}

// PlanSQL plans query name's script.
func PlanSQL(name string, gen nx.Config, events int64, wallRate float64) (*planner.Program, error) {
	script, err := SQLScript(name, gen, events, wallRate)
	if err != nil {
		return nil, err
	}
	reg, err := sqlFunctions()
	if err != nil {
		return nil, err
	}
	p, err := planner.PlanWith(script, planner.Extensions{Functions: reg})
	if err != nil {
		return nil, fmt.Errorf("nexmark %s (SQL): %w", name, err)
	}
	return p, nil
}

// sinkName is the query's sink table.
func sinkName(name string) string { return "nexmark_" + name }

// SQLRows runs the SQL form of query name over cfg's events and returns its
// committed output, the changelog applied (an upsert or retraction takes
// back its row), in the reference's row format, sorted.
func SQLRows(ctx context.Context, name string, cfg JobConfig) ([]string, *engine.Running, error) {
	p, err := PlanSQL(name, cfg.Generator, cfg.Events, cfg.RatePerSecond)
	if err != nil {
		return nil, nil, err
	}
	defer p.Close()
	ecfg := cfg.Engine
	pc, err := p.Config()
	if err != nil {
		return nil, nil, err
	}
	ecfg.Parallelism = max(ecfg.Parallelism, 0)
	if ecfg.Parallelism == 0 {
		ecfg.Parallelism = pc.Parallelism
	}
	j := engine.NewJob("nexmark-sql-"+name, ecfg)
	out := engine.NewTxCollect[*row.Row]()
	o := planner.RunOptions{
		SinkTo: func(table string) engine.Sink[*row.Row] {
			if table == sinkName(name) {
				return out
			}
			return nil
		},
	}
	if cfg.Inject != nil {
		inject := cfg.Inject
		o.Tap = func(table string, s *engine.Stream[*row.Row]) *engine.Stream[*row.Row] {
			return engine.Map(s, table+"-inject-failures", func(r *row.Row) *row.Row { inject(); return r })
		}
	}
	if err := p.Build(j, o); err != nil {
		return nil, nil, fmt.Errorf("nexmark %s (SQL): %w", name, err)
	}
	r, err := j.Start(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("nexmark %s (SQL): %w", name, err)
	}
	if err := r.Wait(); err != nil {
		return nil, r, fmt.Errorf("nexmark %s (SQL): %w", name, err)
	}
	rows, err := applyChanges(out.CommittedValues())
	if err != nil {
		return nil, r, fmt.Errorf("nexmark %s (SQL): %w", name, err)
	}
	return rows, r, nil
}

// applyChanges materialises a changelog: +I and +U add a row, -U and -D
// take back an equal one. The rows are formatted as the reference's
// (fields joined by |), sorted.
func applyChanges(rows []*row.Row) ([]string, error) {
	count := map[string]int{}
	for _, r := range rows {
		k := sqlLine(r)
		if r.Kind.IsRetract() {
			if count[k] == 0 {
				return nil, fmt.Errorf("%v takes back a row that is not in the result", r)
			}
			count[k]--
			continue
		}
		count[k]++
	}
	var out []string
	for k, n := range count {
		for ; n > 0; n-- {
			out = append(out, k)
		}
	}
	return sorted(out), nil
}

// sqlLine formats a SQL row as the reference formats its rows: integers
// in decimal, timestamps as epoch milliseconds, decimals with their
// scale, strings as they are, NULL as "".
func sqlLine(r *row.Row) string {
	var b strings.Builder
	for i := range r.Len() {
		if i > 0 {
			b.WriteByte('|')
		}
		if r.IsNull(i) {
			continue
		}
		switch t := r.L.Type(i); {
		case t.IsTimestamp():
			b.WriteString(strconv.FormatInt(r.Timestamp(i).Millis, 10))
		case t.IsCharString():
			b.WriteString(r.Str(i))
		case t.Kind == types.Decimal:
			b.WriteString(r.Decimal(i).String())
		default:
			fmt.Fprint(&b, r.Get(i))
		}
	}
	return b.String()
}
