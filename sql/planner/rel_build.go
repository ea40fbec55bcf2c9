package planner

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/row"
)

// unique takes the first free operator name of base, base#2, base#3, ...
// and its k (0 for base itself).
func (p *relPlanner) unique(base string) (string, int) {
	for k := 0; ; k++ {
		n := base
		if k > 0 {
			n = fmt.Sprintf("%s#%d", base, k+1)
		}
		if !p.used[n] {
			p.used[n] = true
			return n, k
		}
	}
}

// nameInsert names the engine operators of an INSERT's tree (nodes an
// earlier INSERT named keep their names: they are its operators) and
// writes its EXPLAIN lines.
func (p *relPlanner) nameInsert(ip *insertPlan) {
	ip.logical = append(ip.logical, fmt.Sprintf("Sink(table=[%s], connector=[%s], fields=[%s])", ip.sink.Name, ip.sink.Factory.Name(), strings.Join(layoutNames(ip.sinkL), ", ")))
	renderRel(&ip.logical, ip.root, "   +- ", "      ")

	w := &physWriter{p: p, ip: ip, seen: map[*relNode]bool{}}
	w.node(ip.root)
	if ip.sinkCast != nil {
		ip.castName, _ = p.unique(ip.sink.Name + "-cast")
		w.line(ip.root, fmt.Sprintf("cast %q", ip.castName), "to the sink's column types")
	}
	// The sink's operators are op(name) and op(name-json): find a k free
	// for both.
	for k := 0; ; k++ {
		ip.seq = k
		a, b := ip.op(ip.sink.Name), ip.op(ip.sink.Name+"-json")
		if !p.used[a] && !p.used[b] {
			p.used[a], p.used[b] = true, true
			break
		}
	}
	if ip.sinkCast != nil {
		ip.physical = append(ip.physical, fmt.Sprintf("  -> sink %q (%s)", ip.op(ip.sink.Name), ip.sinkDesc()))
		return
	}
	w.line(ip.root, fmt.Sprintf("sink %q", ip.op(ip.sink.Name)), ip.sinkDesc()+"; no cast: the query's columns are of the sink's types")
}

// renderRel writes n and its inputs as Flink's plan trees: lead before
// n's line, cont before its inputs' lines.
func renderRel(out *[]string, n *relNode, lead, cont string) {
	*out = append(*out, lead+n.label)
	for i, in := range n.inputs {
		if i == len(n.inputs)-1 {
			renderRel(out, in, cont+"+- ", cont+"   ")
		} else {
			renderRel(out, in, cont+":- ", cont+":  ")
		}
	}
}

// physWriter names the operators of one INSERT's tree, inputs first, and
// writes the engine job's lines.
type physWriter struct {
	p    *relPlanner
	ip   *insertPlan
	seen map[*relNode]bool // named by this INSERT
	last string            // the operator of the line above
}

// line writes an operator that reads n: "reads" names its input unless
// that is the line above.
func (w *physWriter) line(in *relNode, what, desc string) {
	var how string
	switch {
	case in.kind == relUnion:
		how = fmt.Sprintf("forward from %d inputs, not chained", len(in.inputs))
	case in.opName != w.last:
		how = fmt.Sprintf("reads %q; forward, chained", in.opName)
	default:
		how = "forward, chained"
	}
	if desc != "" {
		how += "; " + desc
	}
	w.ip.physical = append(w.ip.physical, fmt.Sprintf("  -> %s (%s)", what, how))
}

func (w *physWriter) node(n *relNode) {
	ip, p := w.ip, w.p
	if n.opName != "" {
		if !w.seen[n] {
			w.seen[n] = true
			ip.physical = append(ip.physical, fmt.Sprintf("%s %q (built for an INSERT above)", n.kindWord(), n.opName))
			w.last = n.opName
		}
		return
	}
	w.seen[n] = true
	for _, in := range n.inputs {
		w.node(in)
	}
	switch n.kind {
	case relScan:
		// The first INSERT that reads the table sets its idle timeout.
		n.opName, n.seq = p.unique(n.src.table.Name)
		n.idle = ip.idle
		ip.physical = append(ip.physical, fmt.Sprintf("source %q (%s)", n.opName, n.scanDesc()))
		ip.physical = append(ip.physical, (&insertPlan{src: n.src, seq: n.seq}).logSourceOps()...)
	case relCalc:
		base, desc := n.calcBase, "stateless"
		if base == "union-cast" {
			base, desc = ip.sink.Name+"-union-cast", "stateless; to the union's column types"
		}
		if n.filter {
			desc = ""
		}
		n.opName, _ = p.unique(base)
		w.line(n.inputs[0], fmt.Sprintf("calc %q", n.opName), desc)
	case relWindow:
		n.opName, _ = p.unique(ip.sink.Name + "-window")
		in := n.inputs[0]
		var keys []string
		for _, k := range n.window.keys {
			keys = append(keys, in.sc.names[k])
		}
		desc := fmt.Sprintf("window %q (hash exchange on [%s]; state: %d accumulators per key and window)", n.opName, strings.Join(keys, ", "), len(n.window.aggs))
		if in.opName != w.last {
			desc = fmt.Sprintf("window %q (reads %q; hash exchange on [%s]; state: %d accumulators per key and window)", n.opName, in.opName, strings.Join(keys, ", "), len(n.window.aggs))
		}
		ip.physical = append(ip.physical, "  -> "+desc)
	case relAgg:
		w.aggLine(n)
	case relOver, relRank:
		w.opNode(n)
	case relMatch:
		n.opName, _ = p.unique(ip.sink.Name + "-match")
		ip.physical = append(ip.physical, "  -> "+n.matchDesc(w.last))
	case relUnion:
		var ins []string
		for _, in := range n.inputs {
			ins = append(ins, fmt.Sprintf("%q", in.opName))
		}
		n.opName = "union of " + strings.Join(ins, ", ")
		ip.physical = append(ip.physical, fmt.Sprintf("union of %s (no operator: the next one reads every input; its watermark is the minimum of theirs)", strings.Join(ins, ", ")))
	case relJoin:
		w.joinLine(n)
	case relAnomaly:
		w.anomalyLine(n)
	case relLateral:
		w.lateralLine(n)
	}
	w.last = n.opName
}

func (n *relNode) kindWord() string {
	switch n.kind {
	case relScan:
		return "source"
	case relCalc:
		return "calc"
	case relWindow:
		return "window"
	case relAgg:
		return "aggregate"
	case relJoin:
		return "join"
	case relOver, relRank:
		return n.op.word()
	case relAnomaly:
		return strings.ToLower(strings.ReplaceAll(n.anomaly.fn, "_", "-"))
	case relMatch:
		return "match"
	case relLateral:
		return "correlate"
	}
	return "union"
}

// scanDesc is a source's line in EXPLAIN's engine job.
func (n *relNode) scanDesc() string {
	sp := n.src
	if _, ok := sp.table.Factory.(ExternalSource); ok {
		return externalDesc(sp)
	}
	d := (&insertPlan{src: sp}).sourceDesc()
	if len(sp.sc.names) > len(physicalOf(sp.table)) {
		d += ", computed columns"
	}
	if sp.rowtime >= 0 {
		d += fmt.Sprintf(", watermarks %v behind %s", sp.delay, sp.sc.names[sp.rowtime])
	} else {
		d += ", no watermarks"
	}
	if n.idle > 0 {
		d += fmt.Sprintf(", idle after %v", n.idle)
	}
	return d
}

// lowering turns relational trees into engine streams, each node once:
// a node read twice (a table of a self-union or of two INSERTs) is one
// operator whose output goes to both.
type lowering struct {
	j       *engine.Job
	o       RunOptions
	c       *compiler
	streams map[*relNode]*engine.Stream[*row.Row]
	// consumers counts the operators and INSERTs reading each node's
	// stream: an operator may release (recycle) an input row only where
	// it is the stream's one consumer (rowProcess.owns).
	consumers map[*relNode]int
}

// countConsumers fills l.consumers for the trees of inserts.
func (l *lowering) countConsumers(inserts []*insertPlan) {
	l.consumers = map[*relNode]int{}
	seen := map[*relNode]bool{}
	var walk func(n *relNode)
	walk = func(n *relNode) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.inputs {
			l.consumers[in]++
			walk(in)
		}
	}
	for _, ip := range inserts {
		l.consumers[ip.root]++
		walk(ip.root)
	}
}

func (l *lowering) lower(n *relNode) (*engine.Stream[*row.Row], error) {
	if s, ok := l.streams[n]; ok {
		return s, nil
	}
	var ins []*engine.Stream[*row.Row]
	for _, in := range n.inputs {
		s, err := l.lower(in)
		if err != nil {
			return nil, err
		}
		ins = append(ins, s)
	}
	var s *engine.Stream[*row.Row]
	switch n.kind {
	case relScan:
		sip := &insertPlan{c: l.c, src: n.src, idle: n.idle, seq: n.seq}
		var err error
		if s, err = l.externalScan(n); err != nil {
			return nil, err
		}
		if s == nil {
			if s, err = sip.buildSource(l.j, l.o); err != nil {
				return nil, err
			}
		}
		if l.o.Tap != nil {
			s = l.o.Tap(n.src.table.Name, s)
		}
	case relCalc:
		s = engine.Process[*row.Row, *row.Row](ins[0], n.opName, &rowProcess{newFn: n.calc, owns: l.consumers[n.inputs[0]] == 1})
		l.badRows(n.opName, s)
	case relWindow:
		s = buildWindow(ins[0], n.window, n.inputs[0].layout, n.opName, l.consumers[n.inputs[0]] == 1)
	case relAgg:
		s = buildAgg(ins[0], n.agg, n.opName)
	case relOver, relRank:
		s = n.op.lower(l, n, ins[0])
	case relMatch:
		s = buildMatch(ins[0], n.match, n.opName)
	case relUnion:
		s = engine.Union(ins[0], ins[1:]...)
	case relJoin:
		var err error
		if s, err = buildJoin(ins[0], ins[1], n.join, n.opName); err != nil {
			return nil, err
		}
	case relAnomaly:
		s = buildAnomaly(ins[0], n.anomaly, n.opName)
	case relLateral:
		s = buildLateral(l, n, ins[0])
	}
	l.streams[n] = s
	return s, nil
}
