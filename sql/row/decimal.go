package row

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
)

// Decimal is an exact decimal number: an unscaled integer and a scale
// (value = unscaled × 10^-scale), as Flink's DecimalData. Unscaled values
// that fit an int64 (every DECIMAL of precision ≤ 18, and most values of
// larger ones) are held inline and computed with int64 arithmetic without
// allocating; larger ones use math/big. A Decimal is immutable: operations
// return new values. The zero Decimal is 0 with scale 0.
//
// Why not a library: cockroachdb/apd and shopspring/decimal were the
// candidates. apd allocates little but carries its arbitrary-precision
// context and exponent model into every operation and is ~3x slower on the
// p ≤ 18 sums that dominate SQL aggregates; shopspring allocates a big.Int
// per operation. Flink's DECIMAL is a fixed-scale type of at most 38
// digits with HALF_UP rounding, which an int64 fast path over math/big
// expresses directly (see BenchmarkDecimalAdd).
type Decimal struct {
	u     int64
	b     *big.Int // non-nil when the unscaled value does not fit u
	scale int32
}

var bigTen = big.NewInt(10)

// pow10 are the powers of ten that fit an int64.
var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < 19; i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

var bigPow10Cache [80]*big.Int

func init() {
	for i := range bigPow10Cache {
		bigPow10Cache[i] = new(big.Int).Exp(bigTen, big.NewInt(int64(i)), nil)
	}
}

func bigPow10(n int) *big.Int {
	if n < len(bigPow10Cache) {
		return bigPow10Cache[n]
	}
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

// NewDecimal is unscaled × 10^-scale.
func NewDecimal(unscaled int64, scale int) Decimal { return Decimal{u: unscaled, scale: int32(scale)} }

// DecimalFromBig is unscaled × 10^-scale; it does not keep unscaled.
func DecimalFromBig(unscaled *big.Int, scale int) Decimal {
	if unscaled.IsInt64() {
		return Decimal{u: unscaled.Int64(), scale: int32(scale)}
	}
	return Decimal{b: new(big.Int).Set(unscaled), scale: int32(scale)}
}

func mkBig(b *big.Int, scale int32) Decimal {
	if b.IsInt64() {
		return Decimal{u: b.Int64(), scale: scale}
	}
	return Decimal{b: b, scale: scale}
}

// Scale is the number of digits after the point.
func (d Decimal) Scale() int { return int(d.scale) }

// Unscaled returns the unscaled value as a new big.Int.
func (d Decimal) Unscaled() *big.Int {
	if d.b != nil {
		return new(big.Int).Set(d.b)
	}
	return big.NewInt(d.u)
}

// UnscaledInt64 returns the unscaled value if it fits an int64.
func (d Decimal) UnscaledInt64() (int64, bool) { return d.u, d.b == nil }

func (d Decimal) bigU() *big.Int {
	if d.b != nil {
		return d.b
	}
	return big.NewInt(d.u)
}

// Sign is -1, 0 or 1.
func (d Decimal) Sign() int {
	if d.b != nil {
		return d.b.Sign()
	}
	switch {
	case d.u < 0:
		return -1
	case d.u > 0:
		return 1
	}
	return 0
}

// Digits is the number of decimal digits of the unscaled value (1 for 0).
func (d Decimal) Digits() int {
	if d.b != nil {
		return len(new(big.Int).Abs(d.b).String())
	}
	u := d.u
	if u < 0 {
		if u == math.MinInt64 {
			return 19
		}
		u = -u
	}
	n := 1
	for n < 19 && u >= pow10[n] {
		n++
	}
	return n
}

// Precision is the number of digits needed to hold d at its scale: at
// least its scale + 1 for values below one, as Flink counts a DECIMAL(p, s).
func (d Decimal) Precision() int { return max(d.Digits(), int(d.scale)) }

// FitsPrecision reports whether d fits DECIMAL(p, d.Scale()).
func (d Decimal) FitsPrecision(p int) bool {
	if d.b == nil && p >= 19 {
		return true
	}
	return d.Digits() <= p
}

// Rescale returns d at scale s, rounding HALF_UP (away from zero at .5) as
// Flink's DecimalData does.
func (d Decimal) Rescale(s int) Decimal {
	diff := s - int(d.scale)
	switch {
	case diff == 0:
		return d
	case diff > 0:
		if d.b == nil && diff < 19 {
			hi, lo := bits.Mul64(uabs(d.u), uint64(pow10[diff]))
			if hi == 0 && lo <= math.MaxInt64 {
				v := int64(lo)
				if d.u < 0 {
					v = -v
				}
				return Decimal{u: v, scale: int32(s)}
			}
		}
		return mkBig(new(big.Int).Mul(d.bigU(), bigPow10(diff)), int32(s))
	default:
		div := -diff
		if d.b == nil && div < 19 {
			p := pow10[div]
			q, r := d.u/p, d.u%p
			if r < 0 {
				r = -r
			}
			if r*2 >= p {
				if d.u < 0 {
					q--
				} else {
					q++
				}
			}
			return Decimal{u: q, scale: int32(s)}
		}
		return mkBig(divRoundHalfUp(d.bigU(), bigPow10(div)), int32(s))
	}
}

// Truncate returns d at scale s, dropping digits (toward zero).
func (d Decimal) Truncate(s int) Decimal {
	if s >= int(d.scale) {
		return d.Rescale(s)
	}
	div := int(d.scale) - s
	if d.b == nil && div < 19 {
		return Decimal{u: d.u / pow10[div], scale: int32(s)}
	}
	return mkBig(new(big.Int).Quo(d.bigU(), bigPow10(div)), int32(s))
}

// Floor returns d rounded toward negative infinity at scale s.
func (d Decimal) Floor(s int) Decimal {
	t := d.Truncate(s)
	if d.Sign() < 0 && t.Cmp(d) != 0 {
		return t.Sub(Decimal{u: 1, scale: int32(s)})
	}
	return t
}

// Ceil returns d rounded toward positive infinity at scale s.
func (d Decimal) Ceil(s int) Decimal {
	t := d.Truncate(s)
	if d.Sign() > 0 && t.Cmp(d) != 0 {
		return t.Add(Decimal{u: 1, scale: int32(s)})
	}
	return t
}

// divRoundHalfUp is a/b rounded half away from zero.
func divRoundHalfUp(a, b *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(a, b, new(big.Int))
	if r.Sign() == 0 {
		return q
	}
	r2 := new(big.Int).Abs(r)
	r2.Lsh(r2, 1)
	if r2.Cmp(new(big.Int).Abs(b)) >= 0 {
		if (a.Sign() < 0) != (b.Sign() < 0) {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

func uabs(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// align returns a and b at the larger of their scales.
func align(a, b Decimal) (Decimal, Decimal) {
	if a.scale < b.scale {
		a = a.Rescale(int(b.scale))
	} else if b.scale < a.scale {
		b = b.Rescale(int(a.scale))
	}
	return a, b
}

// Add is d + e at the larger scale, exactly.
func (d Decimal) Add(e Decimal) Decimal {
	d, e = align(d, e)
	if d.b == nil && e.b == nil {
		s := d.u + e.u
		// Overflow iff both operands have the sign the sum lacks.
		if (d.u^s)&(e.u^s) >= 0 {
			return Decimal{u: s, scale: d.scale}
		}
	}
	return mkBig(new(big.Int).Add(d.bigU(), e.bigU()), d.scale)
}

// Sub is d - e at the larger scale, exactly.
func (d Decimal) Sub(e Decimal) Decimal { return d.Add(e.Neg()) }

// Neg is -d.
func (d Decimal) Neg() Decimal {
	if d.b == nil && d.u != math.MinInt64 {
		return Decimal{u: -d.u, scale: d.scale}
	}
	return mkBig(new(big.Int).Neg(d.bigU()), d.scale)
}

// Abs is |d|.
func (d Decimal) Abs() Decimal {
	if d.Sign() < 0 {
		return d.Neg()
	}
	return d
}

// Mul is d × e at scale d.Scale()+e.Scale(), exactly.
func (d Decimal) Mul(e Decimal) Decimal {
	s := d.scale + e.scale
	if d.b == nil && e.b == nil {
		hi, lo := bits.Mul64(uabs(d.u), uabs(e.u))
		if hi == 0 && lo <= math.MaxInt64 {
			v := int64(lo)
			if (d.u < 0) != (e.u < 0) {
				v = -v
			}
			return Decimal{u: v, scale: s}
		}
	}
	return mkBig(new(big.Int).Mul(d.bigU(), e.bigU()), s)
}

// ErrDivideByZero is returned when dividing by zero.
var ErrDivideByZero = errors.New("Division by zero")

// Quo is d / e at the given scale, rounded HALF_UP.
func (d Decimal) Quo(e Decimal, scale int) (Decimal, error) {
	if e.Sign() == 0 {
		return Decimal{}, ErrDivideByZero
	}
	// d/e at scale s = d.u × 10^(s - ds + es) / e.u
	shift := scale - int(d.scale) + int(e.scale)
	num := d.bigU()
	den := e.bigU()
	if shift >= 0 {
		num = new(big.Int).Mul(num, bigPow10(shift))
	} else {
		den = new(big.Int).Mul(den, bigPow10(-shift))
	}
	return mkBig(divRoundHalfUp(num, den), int32(scale)), nil
}

// Rem is the remainder of d / e truncated toward zero (Java's BigDecimal
// remainder), at the larger scale.
func (d Decimal) Rem(e Decimal) (Decimal, error) {
	if e.Sign() == 0 {
		return Decimal{}, ErrDivideByZero
	}
	d, e = align(d, e)
	if d.b == nil && e.b == nil && !(d.u == math.MinInt64 && e.u == -1) {
		return Decimal{u: d.u % e.u, scale: d.scale}, nil
	}
	return mkBig(new(big.Int).Rem(d.bigU(), e.bigU()), d.scale), nil
}

// Cmp compares d and e by value (scales may differ).
func (d Decimal) Cmp(e Decimal) int {
	if d.scale != e.scale {
		d, e = align(d, e)
	}
	if d.b == nil && e.b == nil {
		switch {
		case d.u < e.u:
			return -1
		case d.u > e.u:
			return 1
		}
		return 0
	}
	return d.bigU().Cmp(e.bigU())
}

// Equal reports whether d and e have the same value (1.0 equals 1.00).
func (d Decimal) Equal(e Decimal) bool { return d.Cmp(e) == 0 }

// Normalize strips trailing zeros of the fraction: the canonical form of a
// value, used for keys (1.10 and 1.1 are the same key).
func (d Decimal) Normalize() Decimal {
	if d.Sign() == 0 {
		return Decimal{}
	}
	if d.b == nil {
		for d.scale > 0 && d.u%10 == 0 {
			d.u /= 10
			d.scale--
		}
		return d
	}
	u := new(big.Int).Set(d.b)
	s := d.scale
	r := new(big.Int)
	q := new(big.Int)
	for s > 0 {
		q.QuoRem(u, bigTen, r)
		if r.Sign() != 0 {
			break
		}
		u.Set(q)
		s--
	}
	return mkBig(u, s)
}

// Int64 returns the integer part of d (truncated toward zero), wrapped to
// 64 bits as Java's BigDecimal.longValue, and whether it fit.
func (d Decimal) Int64() (int64, bool) {
	t := d.Truncate(0)
	if t.b == nil {
		return t.u, true
	}
	return t.b.Int64(), false
}

// Float64 is the nearest float64.
func (d Decimal) Float64() float64 {
	if d.b == nil && d.scale >= 0 && d.scale < 19 && d.u > -(1<<53) && d.u < 1<<53 {
		// Exactly representable numerator and power of ten ≤ 1e22 give the
		// correctly rounded quotient.
		return float64(d.u) / float64(pow10[d.scale])
	}
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

// DecimalFromInt64 is v at scale s (exact; may exceed int64 internally).
func DecimalFromInt64(v int64, s int) Decimal { return Decimal{u: v}.Rescale(s) }

// DecimalFromFloat64 converts f to a decimal of scale s, rounding HALF_UP
// on f's shortest decimal representation (Java's BigDecimal.valueOf).
// ok is false for NaN and infinities.
func DecimalFromFloat64(f float64, s int) (Decimal, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Decimal{}, false
	}
	d, err := ParseDecimal(strconv.FormatFloat(f, 'g', -1, 64))
	if err != nil {
		return Decimal{}, false
	}
	return d.Rescale(s), true
}

// ErrInvalidDecimal is returned for a string that is not a number.
var ErrInvalidDecimal = errors.New("invalid decimal")

// ParseDecimal parses a number: an optional sign, digits with an optional
// point, and an optional exponent (1.5, -.5, 1e3, 2.5E-3). Surrounding
// spaces are ignored, as Flink does when casting a string. The scale is the
// number of digits after the point less the exponent, at least 0.
func ParseDecimal(s string) (Decimal, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Decimal{}, ErrInvalidDecimal
	}
	i := 0
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i++
	}
	var digits []byte
	var small uint64
	fits := true
	scale := 0
	seenDot, any := false, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			any = true
			digits = append(digits, c)
			if fits {
				hi, lo := bits.Mul64(small, 10)
				lo2, carry := bits.Add64(lo, uint64(c-'0'), 0)
				if hi != 0 || carry != 0 || lo2 > math.MaxInt64 {
					fits = false
				} else {
					small = lo2
				}
			}
			if seenDot {
				scale++
			}
		case c == '.' && !seenDot:
			seenDot = true
		case (c == 'e' || c == 'E') && any:
			exp, err := strconv.Atoi(s[i+1:])
			if err != nil {
				return Decimal{}, ErrInvalidDecimal
			}
			scale -= exp
			i = len(s)
		default:
			return Decimal{}, ErrInvalidDecimal
		}
	}
	if !any {
		return Decimal{}, ErrInvalidDecimal
	}
	var d Decimal
	if fits {
		v := int64(small)
		if neg {
			v = -v
		}
		d = Decimal{u: v}
	} else {
		b, _ := new(big.Int).SetString(string(digits), 10)
		if neg {
			b.Neg(b)
		}
		d = Decimal{b: b}
	}
	if scale < 0 {
		d = mkBig(new(big.Int).Mul(d.bigU(), bigPow10(-scale)), 0)
		scale = 0
	}
	d.scale = int32(scale)
	return d, nil
}

// MustDecimal is ParseDecimal that panics: for literals in tests.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(fmt.Sprintf("row: MustDecimal(%q): %v", s, err))
	}
	return d
}

// String is the plain form with exactly Scale digits after the point
// (Java's BigDecimal.toPlainString, which Flink's CAST to STRING uses).
func (d Decimal) String() string { return string(d.AppendPlain(nil)) }

// AppendPlain appends d's plain form.
func (d Decimal) AppendPlain(dst []byte) []byte {
	var digits []byte
	neg := d.Sign() < 0
	if d.b != nil {
		digits = new(big.Int).Abs(d.b).Append(nil, 10)
	} else {
		digits = strconv.AppendUint(nil, uabs(d.u), 10)
	}
	if neg {
		dst = append(dst, '-')
	}
	s := int(d.scale)
	if s == 0 {
		return append(dst, digits...)
	}
	if len(digits) <= s {
		dst = append(dst, '0', '.')
		for i := len(digits); i < s; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[:len(digits)-s]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-s:]...)
}

// JavaString is Java's BigDecimal.toString: the plain form, or scientific
// notation when the adjusted exponent is below -6 (0.0000001 is 1E-7).
// Flink's print connector shows DECIMAL values this way.
func (d Decimal) JavaString() string {
	digits := d.Abs().Unscaled().String()
	adjusted := len(digits) - 1 - int(d.scale)
	if d.scale >= 0 && adjusted >= -6 {
		return d.String()
	}
	var b strings.Builder
	if d.Sign() < 0 {
		b.WriteByte('-')
	}
	b.WriteString(digits[:1])
	if len(digits) > 1 {
		b.WriteByte('.')
		b.WriteString(digits[1:])
	}
	b.WriteByte('E')
	if adjusted >= 0 {
		b.WriteByte('+')
	}
	b.WriteString(strconv.Itoa(adjusted))
	return b.String()
}

// ToPrecision returns d at DECIMAL(p, s): rounded HALF_UP to scale s, and
// ok false if it then needs more than p digits (Flink gives NULL then).
func (d Decimal) ToPrecision(p, s int) (Decimal, bool) {
	r := d.Rescale(s)
	if !r.FitsPrecision(p) {
		return Decimal{}, false
	}
	return r, true
}
