package anomaly

import (
	"encoding"
	"fmt"
	"hash/fnv"
	"slices"
)

// Detector is what a Keyed container holds per key: a model with a
// snapshot. *RCF and *Hotspots are Detectors.
type Detector interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// Keyed holds one detector per key (a device, a user, a shard), created on
// the key's first record. It is the plain-Go form of a keyed anomaly
// operator: the engine wrapper will keep each key's snapshot in keyed state
// instead of a map, and call the same functions. Not safe for concurrent
// use.
type Keyed[D Detector] struct {
	newDetector func(key string) (D, error)
	m           map[string]D
}

// NewKeyed returns an empty container; newDetector makes the detector for a
// new key (and the empty detector a key's snapshot is restored into).
func NewKeyed[D Detector](newDetector func(key string) (D, error)) *Keyed[D] {
	return &Keyed[D]{newDetector: newDetector, m: map[string]D{}}
}

// Get returns key's detector, creating it on first use.
func (k *Keyed[D]) Get(key string) (D, error) {
	d, ok := k.m[key]
	if ok {
		return d, nil
	}
	d, err := k.newDetector(key)
	if err != nil {
		return d, err
	}
	k.m[key] = d
	return d, nil
}

// Len is the number of keys.
func (k *Keyed[D]) Len() int { return len(k.m) }

// Keys returns the keys in sorted order.
func (k *Keyed[D]) Keys() []string {
	keys := make([]string, 0, len(k.m))
	for key := range k.m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}

// Delete drops a key's detector (e.g. when its state expires).
func (k *Keyed[D]) Delete(key string) { delete(k.m, key) }

// Snapshot format of a Keyed container, version 1: "SKEY" u16(version),
// u32 number of keys, then in sorted key order: str key, bytes snapshot of
// the key's detector.
const (
	keyedMagic   = "SKEY"
	keyedVersion = 1
)

// MarshalBinary snapshots every key's detector, keys in sorted order so
// that equal states give equal bytes.
func (k *Keyed[D]) MarshalBinary() ([]byte, error) {
	e := &enc{}
	e.header(keyedMagic, keyedVersion)
	keys := k.Keys()
	e.u32(uint32(len(keys)))
	for _, key := range keys {
		b, err := k.m[key].MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("anomaly: key %q: %w", key, err)
		}
		e.str(key)
		e.bytes(b)
	}
	return e.b, nil
}

// UnmarshalBinary replaces every key's detector with the snapshot's; on
// error k is unchanged.
func (k *Keyed[D]) UnmarshalBinary(b []byte) error {
	d := &dec{b: b}
	if v := d.header(keyedMagic); d.err == nil && v != keyedVersion {
		d.fail("keyed format version %d, this build reads %d", v, keyedVersion)
	}
	n := d.length(len(b))
	m := make(map[string]D, min(n, 1<<16))
	for i := 0; i < n && d.err == nil; i++ {
		key := d.str(len(b))
		snap := d.bytes(len(b))
		if d.err != nil {
			break
		}
		if _, dup := m[key]; dup {
			d.fail("key %q twice", key)
			break
		}
		det, err := k.newDetector(key)
		if err != nil {
			return fmt.Errorf("anomaly: key %q: %w", key, err)
		}
		if err := det.UnmarshalBinary(snap); err != nil {
			return fmt.Errorf("anomaly: key %q: %w", key, err)
		}
		m[key] = det
	}
	d.end()
	if d.err != nil {
		return d.err
	}
	k.m = m
	return nil
}

// KeySeed derives a key's seed from a base seed, so that each key's model
// is a function of that key's records alone, whatever order keys arrive in
// and however keys are spread over tasks.
func KeySeed(base uint64, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return deriveSeed(base, h.Sum64())
}

// KeyedRCF is RANDOM_CUT_FOREST (or its explanation variant) per value of a
// key column, e.g. a forest per device.
type KeyedRCF struct {
	*Keyed[*RCF]
	schema Schema // the input schema, key column as a pass-through
	out    Schema
	keyCol int
}

// OutputSchema is the input schema followed by the output columns.
func (k *KeyedRCF) OutputSchema() Schema { return k.out }

// NewKeyedRCF plans a keyed RANDOM_CUT_FOREST: keyColumn's value (formatted
// with %v) selects the model; the key column itself is not a dimension
// even if numeric. Each key's model is seeded with KeySeed(p.Seed, key).
func NewKeyedRCF(in Schema, keyColumn string, p RCFParams, explanation bool) (*KeyedRCF, error) {
	kc := slices.IndexFunc(in, func(c Column) bool { return c.Name == keyColumn })
	if kc < 0 {
		return nil, fmt.Errorf("anomaly: key column %q not in the schema", keyColumn)
	}
	// The model sees the key column as a pass-through column.
	model := append(Schema(nil), in...)
	model[kc].Type = TypeOther
	// Plan once now so that bad parameters and schemas fail at planning.
	tmpl, err := newRCF(model, p, explanation)
	if err != nil {
		return nil, err
	}
	out := append(Schema(nil), tmpl.OutputSchema()...)
	out[kc].Type = in[kc].Type
	k := &KeyedRCF{schema: model, out: out, keyCol: kc}
	k.Keyed = NewKeyed(func(key string) (*RCF, error) {
		q := p
		q.Seed = KeySeed(p.Seed, key)
		return newRCF(model, q, explanation)
	})
	return k, nil
}

// Process routes the row to its key's model; errors as RCF.Process.
func (k *KeyedRCF) Process(in Row) (Row, error) {
	if len(in) != len(k.schema) {
		return nil, fmt.Errorf("%w: %d values for %d columns", ErrBadRecord, len(in), len(k.schema))
	}
	if in[k.keyCol] == nil {
		return nil, fmt.Errorf("%w: key column %q is null", ErrBadRecord, k.schema[k.keyCol].Name)
	}
	key := fmt.Sprint(in[k.keyCol])
	// Check the row before creating a model for a new key, so that a bad
	// row creates no state.
	d, ok := k.m[key]
	if !ok {
		probe := make([]float64, 0, MaxDimensions)
		dims, _ := dimensions(k.schema)
		if err := extract(k.schema, dims, in, probe[:len(dims)]); err != nil {
			return nil, err
		}
		var err error
		if d, err = k.Get(key); err != nil {
			return nil, err
		}
	}
	return d.Process(in)
}
