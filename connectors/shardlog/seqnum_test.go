package shardlog

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
)

// refSeq builds the text form the slow way: the 47 hex digits of the
// service's layout, read as one big integer.
func refSeq(s SequenceNumber) string {
	h := fmt.Sprintf("2%09x%x%016x00%09x%08x2", s.Created&mask36, s.Shard&0xf, s.Pos, s.Time&mask36, s.Shard)
	v, ok := new(big.Int).SetString(h, 16)
	if !ok {
		panic(h)
	}
	return v.String()
}

// Sequence numbers the real service issued (from public command-line
// transcripts), with the fields their layout holds.
var serviceSeqs = []struct {
	text          string
	shard         uint32
	pos           uint64
	created, time uint64
}{
	{"49573439609077956250842575773354631510868257831976435714", 0, 0xc5, 1495416119, 1495424779},
	{"49629432957388521732637430547576992512317925690177486850", 0, 0x19b, 1652342905, 1652343075},
	{"49625681492847716055798994229222865552900196919517642754", 0, 0xb29b, 1641829062, 1641829200},
}

func TestSequenceNumberServiceShape(t *testing.T) {
	for _, c := range serviceSeqs {
		s, ok := ParseSequenceNumber(c.text)
		if !ok {
			t.Fatalf("a sequence number of the service's is refused: %s", c.text)
		}
		want := SequenceNumber{Shard: c.shard, Pos: c.pos, Created: c.created, Time: c.time}
		if s != want {
			t.Fatalf("%s parses as %+v, want %+v", c.text, s, want)
		}
		if got := s.String(); got != c.text {
			t.Fatalf("%+v prints as %s, want %s", s, got, c.text)
		}
	}
}

func TestSequenceNumberRoundTripAndOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	edge := []uint64{0, 1, 1<<16 - 1, 1 << 16, 1<<48 - 1, 1 << 48, 1<<63 + 5, 1<<64 - 1}
	pick := func(max uint64) uint64 {
		if rng.IntN(4) == 0 {
			return edge[rng.IntN(len(edge))] & max
		}
		return rng.Uint64() & max
	}
	for i := 0; i < 20000; i++ {
		shard := uint32(pick(1<<32 - 1))
		created := pick(mask36)
		a := SequenceNumber{Shard: shard, Pos: pick(1<<64 - 2), Created: created, Time: pick(mask36)}
		b := SequenceNumber{Shard: shard, Pos: a.Pos + 1 + pick(1<<64-1)%(1<<64-1-a.Pos), Created: created, Time: pick(mask36)}
		for _, s := range []SequenceNumber{a, b} {
			str := s.String()
			if ref := refSeq(s); str != ref {
				t.Fatalf("%+v prints as %s, want %s", s, str, ref)
			}
			if len(str) != 56 || str[:2] < "49" || str[:2] > "73" || !validSeqSyntax(str) {
				t.Fatalf("%+v prints as %s: not 56 digits from 49 to 73", s, str)
			}
			back, ok := ParseSequenceNumber(str)
			if !ok || back != s {
				t.Fatalf("%s parses as %+v %v, want %+v", str, back, ok, s)
			}
		}
		// Later in the shard sorts after, whatever the times, as strings
		// and as integers.
		as, bs := a.String(), b.String()
		ai, _ := new(big.Int).SetString(as, 10)
		bi, _ := new(big.Int).SetString(bs, 10)
		if !(as < bs) || ai.Cmp(bi) >= 0 {
			t.Fatalf("position %d (%s) does not sort before position %d (%s)", a.Pos, as, b.Pos, bs)
		}
	}
}

func TestSequenceNumberLegacyAndRefused(t *testing.T) {
	// The 46-digit form the log issued before: shard 3, position 42.
	s, ok := ParseSequenceNumber("1000000000000000000030000000000000000000000042")
	if !ok || s.Shard != 3 || s.Pos != 42 || s.Offset() != 41 {
		t.Fatalf("the earlier form parses as %+v %v", s, ok)
	}
	good := SequenceNumber{Shard: 0x1234567a, Pos: 9, Created: 1700000000, Time: 1700000100}.String()
	tamper := func(f func(h string) string) string {
		v, _ := new(big.Int).SetString(good, 10)
		w, _ := new(big.Int).SetString(f(fmt.Sprintf("%x", v)), 16)
		return w.String()
	}
	for _, bad := range []string{
		"", "0", "1", "12345",
		"2000000000000000000030000000000000000000000042", // 46 digits not beginning 1
		good[:55], good + "0", good[:10] + "x" + good[11:],
		tamper(func(h string) string { return "3" + h[1:] }),            // leading digit
		tamper(func(h string) string { return h[:46] + "3" }),           // trailing digit
		tamper(func(h string) string { return h[:27] + "01" + h[29:] }), // the 00 byte
		tamper(func(h string) string { return h[:10] + "b" + h[11:] }),  // index digit disagrees
		"99999999999999999999999999999999999999999999999999999999",      // too large
		"10000000000000000000000000000000000000000000000000000000",      // too small
	} {
		if s, ok := ParseSequenceNumber(bad); ok {
			t.Fatalf("%q accepted as %+v", bad, s)
		}
	}
	if ShardID(7) != "shardId-000000000007" {
		t.Fatal(ShardID(7))
	}
}

func BenchmarkSequenceNumberText(b *testing.B) {
	s := SequenceNumber{Shard: 3, Pos: 123456789, Created: 1700000000, Time: 1700000100}
	var buf [64]byte
	for b.Loop() {
		s.AppendText(buf[:0])
	}
}
