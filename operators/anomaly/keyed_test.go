package anomaly

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

var deviceSchema = Schema{{"device", TypeVarchar}, {"temp", TypeDouble}, {"rpm", TypeBigint}}

func deviceRows(devices, n int, seed uint64) []Row {
	data := mixture(n, 2, seed)
	rows := make([]Row, n)
	for i, d := range data {
		rows[i] = Row{fmt.Sprintf("dev-%d", (i*7919)%devices), 20 + d[0], int64(1000 + 100*d[1])}
	}
	return rows
}

// Each key's scores depend only on that key's records: interleaving keys
// changes nothing, and a key's model matches a plain operator seeded with
// KeySeed.
func TestKeyedRCFIsolatesKeys(t *testing.T) {
	p := RCFParams{NumberOfTrees: 20, SubSampleSize: 64, Probability: true, Seed: 77}
	rows := deviceRows(3, 1500, 1)
	k, err := NewKeyedRCF(deviceSchema, "device", p, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]Row{}
	for _, r := range rows {
		out, err := k.Process(r)
		if err != nil {
			t.Fatal(err)
		}
		got[r[0].(string)] = append(got[r[0].(string)], out)
	}
	if k.Len() != 3 {
		t.Fatalf("%d keys", k.Len())
	}
	model := append(Schema(nil), deviceSchema...)
	model[0].Type = TypeOther
	for dev, outs := range got {
		q := p
		q.Seed = KeySeed(p.Seed, dev)
		alone, _ := NewRandomCutForest(model, q)
		i := 0
		for _, r := range rows {
			if r[0] != dev {
				continue
			}
			out, err := alone.Process(r)
			if err != nil {
				t.Fatal(err)
			}
			for c := range out {
				if out[c] != outs[i][c] {
					t.Fatalf("%s record %d column %d: keyed %v, alone %v", dev, i, c, outs[i][c], out[c])
				}
			}
			i++
		}
	}
	if out := k.OutputSchema(); out[0].Type != TypeVarchar || out[len(out)-1].Name != ColAnomalyProbability {
		t.Errorf("output schema %v", out)
	}
}

// A snapshot of all keys restores into a fresh container, which continues
// exactly as the original.
func TestKeyedSnapshotRestore(t *testing.T) {
	p := RCFParams{NumberOfTrees: 15, SubSampleSize: 32, TimeDecay: 500, ShingleSize: 2, Seed: 5}
	rows := deviceRows(4, 2000, 2)
	a, _ := NewKeyedRCF(deviceSchema, "device", p, true)
	ref, _ := NewKeyedRCF(deviceSchema, "device", p, true)
	var want []Row
	for _, r := range rows {
		out, err := ref.Process(r)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, out)
	}
	for _, r := range rows[:900] {
		a.Process(r)
	}
	snap, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewKeyedRCF(deviceSchema, "device", p, true)
	if err := b.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	if b.Len() != a.Len() {
		t.Fatalf("%d keys restored of %d", b.Len(), a.Len())
	}
	again, _ := b.MarshalBinary()
	if !bytes.Equal(snap, again) {
		t.Fatal("snapshot of the restored container differs")
	}
	for i := 900; i < len(rows); i++ {
		out, err := b.Process(rows[i])
		if err != nil {
			t.Fatal(err)
		}
		for c := range out {
			if out[c] != want[i][c] {
				t.Fatalf("record %d column %d: restored %v, uninterrupted %v", i, c, out[c], want[i][c])
			}
		}
	}
	if err := b.UnmarshalBinary(snap[:len(snap)-5]); !errors.Is(err, ErrCorruptSnapshot) {
		t.Errorf("truncated: %v", err)
	}
	if b.Len() != a.Len() {
		t.Error("a refused snapshot changed the container")
	}
}

func TestKeyedBadRecordsCreateNoState(t *testing.T) {
	k, err := NewKeyedRCF(deviceSchema, "device", RCFParams{}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Row{{nil, 1.0, int64(1)}, {"new", "hot", int64(1)}, {"new", 1.0}} {
		if _, err := k.Process(r); !errors.Is(err, ErrBadRecord) {
			t.Errorf("row %v: %v", r, err)
		}
	}
	if k.Len() != 0 {
		t.Errorf("%d keys created by bad rows", k.Len())
	}
	if _, err := NewKeyedRCF(deviceSchema, "nope", RCFParams{}, false); err == nil {
		t.Error("missing key column accepted")
	}
	if _, err := NewKeyedRCF(Schema{{"k", TypeBigint}}, "k", RCFParams{}, false); err == nil {
		t.Error("schema whose only numeric column is the key accepted")
	}
}
