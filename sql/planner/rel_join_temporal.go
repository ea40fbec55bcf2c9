package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// temporalJoin plans L JOIN R FOR SYSTEM_TIME AS OF L.t ON L.k = R.k:
// an event-time temporal join against R as a versioned table. Each row
// of R is the version of its primary key (which the equality condition
// must name, as Flink requires; without one, of its equality columns)
// from its rowtime on; a row of L waits until the
// watermark passes its time t, then joins the version valid at t. The
// result appends; L's time attribute stays one, R's becomes a plain
// TIMESTAMP.
func (p *relPlanner) temporalJoin(j *ast.Join, in relInput, jp *joinPlan, l, r relInput, asOf ast.Expr, rest []ast.Expr) (relInput, error) {
	src := p.c.src
	if jp.kind != ast.InnerJoin && jp.kind != ast.LeftJoin {
		kind := "FULL JOIN"
		if jp.kind == ast.RightJoin {
			kind = "RIGHT JOIN"
		}
		return in, diag.New(src, j.Span(), "Temporal table join currently only supports INNER JOIN and LEFT JOIN, but was %s", kind)
	}
	at, err := p.resolveJoinNames(in, asOf)
	if err != nil {
		return in, err
	}
	nl := len(l.sc.names)
	lt := colRef(at, in.sc)
	if lt < 0 || lt >= nl {
		return in, diag.New(src, asOf.Span(), "FOR SYSTEM_TIME AS OF takes a time attribute of the left input")
	}
	if in.sc.types[lt].Attr != types.Rowtime {
		return in, diag.New(src, asOf.Span(), "FOR SYSTEM_TIME AS OF a column that is not a rowtime attribute (a processing-time lookup join) is not supported yet: '%s' is %s", l.sc.names[lt], in.sc.types[lt])
	}
	rt := -1
	for i, t := range r.sc.types {
		if t.Attr == types.Rowtime {
			rt = i
			break
		}
	}
	if rt < 0 {
		return in, diag.New(src, j.R.Span(), "Event-Time Temporal Table Join requires both primary key and row time attribute in versioned table, but no row time attribute can be found.")
	}
	if err := appendOnlyInput(src, j.L.Span(), "StreamPhysicalTemporalJoin", l.node); err != nil {
		return in, err
	}
	if err := p.versionedKey(j, l, r, jp); err != nil {
		return in, err
	}
	sc := in.sc
	for i := nl; i < len(sc.types); i++ {
		sc.types[i] = sc.types[i].WithAttr(types.Regular)
	}
	jp.temporal = true
	jp.interval = &joinInterval{ltime: lt, rtime: rt}
	if len(rest) > 0 {
		jp.cond = andAll(rest)
		if _, err := p.c.compile(jp.cond, sc); err != nil {
			return in, err
		}
	}
	jp.out = layoutOf(sc.names, sc.types)
	var keys []string
	for _, k := range jp.rkeys {
		keys = append(keys, sc.names[nl+k])
	}
	n := &relNode{kind: relJoin, name: "join", sc: sc, layout: jp.out, inputs: []*relNode{l.node, r.node}, join: jp}
	n.label = fmt.Sprintf("TemporalJoin(joinType=[%s], where=[%s], period=[%s], versions=[%s by [%s] at %s], select=[%s])",
		jp.flinkType, jp.whereText, sc.names[lt], r.name, strings.Join(keys, ", "), sc.names[nl+rt], strings.Join(sc.names, ", "))
	in.node, in.name = n, "join"
	return in, nil
}

// temporalRow handles a row of a temporal join: a left row waits in
// state for the watermark to pass its time; a right row is the version
// of its key from its time on (a retraction ends the key's version).
func (o *joinOp) temporalRow(x *row.Row, self *joinSide) error {
	if x.IsNull(self.tcol) || nullKey(x, self.keys) {
		if self.left && self.outer {
			t := int64(0)
			if !x.IsNull(self.tcol) {
				t = x.Timestamp(self.tcol).Millis
			}
			o.emit(o.combine(x, self, nil, row.Insert), t)
		}
		return nil
	}
	t := x.Timestamp(self.tcol).Millis
	o.keys.SetCurrentKey(o.keysOf(x, self))
	if !self.left {
		if x.Kind == row.UpdateBefore {
			return nil // the +U that follows is the new version
		}
		// One version per time: the last row at a time wins.
		return self.buf.Put(t, []ivRow{{enc: o.encode(x, self), matched: x.Kind == row.Delete}})
	}
	if wm := o.ctx.CurrentWatermark(); wm != engine.MinTime && wm >= t {
		return o.temporalJoinAt(t, []ivRow{{enc: o.encode(x, self)}})
	}
	rs, _, err := self.buf.Get(t)
	if err != nil {
		return err
	}
	if err := self.buf.Put(t, append(rs, ivRow{enc: o.encode(x, self)})); err != nil {
		return err
	}
	return o.keys.RegisterEventTimer(t, []byte{'T'})
}

func (o *joinOp) temporalFire(t engine.TimerFiring) error {
	if len(t.Namespace) != 1 || t.Namespace[0] != 'T' {
		return fmt.Errorf("planner: temporal join timer namespace %x", t.Namespace)
	}
	rs, _, err := o.l.buf.Get(t.Time)
	if err != nil {
		return err
	}
	if err := o.temporalJoinAt(t.Time, rs); err != nil {
		return err
	}
	return o.l.buf.Remove(t.Time)
}

// temporalJoinAt joins the left rows ls at time t (of the current key)
// with the version valid at t: the right row of the latest time <= t,
// unless that is a retraction. Versions older than it are dropped: the
// watermark has passed t, so no later left row can need them.
func (o *joinOp) temporalJoinAt(t int64, ls []ivRow) error {
	var older []int64
	var version *ivRow
	vts := int64(0)
	if err := o.r.buf.Range(func(ts int64, vs []ivRow) bool {
		if ts > t {
			return false
		}
		if version != nil {
			older = append(older, vts)
		}
		v := vs[len(vs)-1]
		version, vts = &v, ts
		return true
	}); err != nil {
		return err
	}
	var y *row.Row
	if version != nil && !version.matched {
		var err error
		if y, err = o.r.codec.Decode([]byte(version.enc)); err != nil {
			return err
		}
	}
	for _, lr := range ls {
		x, err := o.l.codec.Decode([]byte(lr.enc))
		if err != nil {
			return err
		}
		hit := false
		if y != nil {
			if hit, err = o.matches(x, &o.l, y); err != nil {
				return err
			}
		}
		switch {
		case hit:
			o.emit(o.combine(x, &o.l, y, row.Insert), t)
		case o.l.outer:
			o.emit(o.combine(x, &o.l, nil, row.Insert), t)
		}
	}
	for _, ts := range older {
		if err := o.r.buf.Remove(ts); err != nil {
			return err
		}
	}
	return nil
}

// versionedKey checks that the join's equality condition is on exactly
// the columns of the versioned side's primary key (a table's PRIMARY KEY,
// or the upsert key of an updating input such as an upsert-shardlog read
// or a keep-last deduplication) with Flink's refusal; versions are kept
// per key. Without a key the equality columns are the versions' key,
// where Flink refuses.
// An equality on more columns than the key is refused: a new version of
// a key must end the old one whatever its other columns hold.
func (p *relPlanner) versionedKey(j *ast.Join, l, r relInput, jp *joinPlan) error {
	src := p.c.src
	var pk []int
	if m := r.node.changelog(); m.upsertKey != nil {
		pk = m.upsertKey
	} else if r.node.kind == relScan && r.node.src.table.PrimaryKey != nil {
		for _, c := range r.node.src.table.PrimaryKey.Columns {
			pk = append(pk, r.node.sc.index(c))
		}
	}
	if len(pk) == 0 {
		// Flink refuses a versioned table without a key; Sluice keys its
		// versions by the equality columns (docs/sql-joins.md).
		return nil
	}
	var pkNames, cond []string
	for _, k := range pk {
		pkNames = append(pkNames, r.sc.names[k])
	}
	for i, rk := range jp.rkeys {
		cond = append(cond, fmt.Sprintf("%s=%s", l.sc.names[jp.lkeys[i]], r.sc.names[rk]))
	}
	if !sameSet(pk, jp.rkeys) {
		if subset(pk, jp.rkeys) {
			return diag.New(src, j.Span(), "a temporal join whose equality condition [%s] has columns beyond the versioned table's primary key [%s] is not supported yet", strings.Join(cond, ","), strings.Join(pkNames, ","))
		}
		return diag.New(src, j.Span(), "Temporal table's primary key [%s] must be included in the equivalence condition of temporal join, but current temporal join condition is [%s].", strings.Join(pkNames, ","), strings.Join(cond, ","))
	}
	return nil
}

// subset reports whether every element of a is in b; sameSet whether
// both hold each other's.
func subset(a, b []int) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func sameSet(a, b []int) bool { return subset(a, b) && subset(b, a) }
