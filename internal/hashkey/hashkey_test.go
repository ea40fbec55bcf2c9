package hashkey

import (
	"math/big"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1)).String()
	for _, s := range []string{"0", "1", "18446744073709551615", "18446744073709551616", max} {
		k, ok := Parse(s)
		if !ok || k.String() != s {
			t.Errorf("Parse(%q) = %v, %v", s, k, ok)
		}
	}
	if k, ok := Parse("0007"); !ok || k != (Key{Lo: 7}) {
		t.Errorf("leading zeros: %v %v", k, ok)
	}
	two128 := new(big.Int).Lsh(big.NewInt(1), 128).String()
	for _, s := range []string{"", "-1", "1.5", "x", two128, "00000000000000000000000000000000000000001"} {
		if _, ok := Parse(s); ok {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestOfIsMD5(t *testing.T) {
	// md5("a") = 0cc175b9c0f1b6a831c399e269772661
	want := Key{Hi: 0x0cc175b9c0f1b6a8, Lo: 0x31c399e269772661}
	if got := Of([]byte("a")); got != want {
		t.Fatalf("Of(a) = %x, want %x", got, want)
	}
	if OfString("a") != want {
		t.Fatal("OfString differs from Of")
	}
}

func TestUniformCoversSpace(t *testing.T) {
	for n := 1; n <= 7; n++ {
		rs := Uniform(n)
		if rs[0].Start != (Key{}) || rs[n-1].End != Max {
			t.Fatalf("n=%d: ends %v..%v", n, rs[0].Start, rs[n-1].End)
		}
		for i := 1; i < n; i++ {
			if rs[i].Start != rs[i-1].End.Add(1) {
				t.Fatalf("n=%d: gap before range %d", n, i)
			}
			if rs[i].Overlaps(rs[i-1]) {
				t.Fatalf("n=%d: ranges %d and %d overlap", n, i-1, i)
			}
		}
		m := rs[0].Midpoint()
		if !rs[0].Contains(m) || !rs[0].Contains(m.Sub(1)) {
			t.Fatalf("n=%d: midpoint %v outside %v", n, m, rs[0])
		}
	}
}
