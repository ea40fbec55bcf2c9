package functions

// TypedAdder is Accumulator.Add for one argument held unboxed: an int64
// (TINYINT, SMALLINT, INT, BIGINT) or a float64 (FLOAT, DOUBLE), with its
// NULL flag. The accumulators of the aggregates for which Aggregate.Typed
// is true implement it; AddInt(v, null) and AddFloat(v, null) do what
// Add([]Value{the value}) does, and COUNT(*) takes AddInt(0, false) per
// row. They do not allocate.
type TypedAdder interface {
	AddInt(v int64, null bool)
	AddFloat(v float64, null bool)
}

// Typed reports whether the aggregate's accumulators are TypedAdders for
// its argument: COUNT, SUM, AVG, MIN and MAX without DISTINCT, of no
// argument (COUNT(*)) or one of an integer or floating point type.
func (a *Aggregate) Typed() bool {
	if a.Distinct {
		return false
	}
	switch a.Name {
	case "COUNT", "SUM", "AVG", "MIN", "MAX":
	default:
		return false
	}
	switch len(a.Params) {
	case 0:
		return a.Name == "COUNT"
	case 1:
		t := a.Params[0]
		return t.IsInteger() || t.IsApproximate()
	}
	return false
}

func (a *countAcc) AddInt(_ int64, null bool) {
	if a.star || !null {
		a.n++
	}
}

func (a *countAcc) AddFloat(_ float64, null bool) {
	if a.star || !null {
		a.n++
	}
}

func (a *sumAcc) AddInt(v int64, null bool) {
	if null {
		return
	}
	a.n++
	a.i = wrap(a.i+v, intBits(a.t.Kind))
}

func (a *sumAcc) AddFloat(v float64, null bool) {
	if null {
		return
	}
	a.n++
	a.f += v
}

func (a *avgAcc) AddInt(v int64, null bool) {
	if null {
		return
	}
	a.sum.AddInt(v, false)
	a.n++
}

func (a *avgAcc) AddFloat(v float64, null bool) {
	if null {
		return
	}
	a.sum.AddFloat(v, false)
	a.n++
}

func (a *extremeAcc) AddInt(v int64, null bool) {
	if null {
		return
	}
	if !a.has || (a.max && v > a.v.I) || (!a.max && v < a.v.I) {
		a.v, a.has = Int(v), true
	}
}

func (a *extremeAcc) AddFloat(v float64, null bool) {
	if null {
		return
	}
	if !a.has {
		a.v, a.has = Float(v), true
		return
	}
	c := compareFloat(v, a.v.F)
	if (a.max && c > 0) || (!a.max && c < 0) {
		a.v = Float(v)
	}
}
