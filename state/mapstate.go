package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// MapState keeps a map from user keys to values per key (and namespace).
// Unlike the value-like states it writes through to the store: maps can be
// large, and each entry is its own store key, so reading one entry never
// decodes the whole map. Range visits entries in the byte order of the
// encoded user keys (numeric order for the built-in integer codecs).
type MapState[UK, UV any] struct {
	b      *Backend
	name   string
	prefix []byte
	ukc    Codec[UK]
	uvc    Codec[UV]
	ttl    TTL
	ns     []byte
	sk     []byte
	vb     []byte
}

// NewMapState registers a map state.
func NewMapState[UK, UV any](b *Backend, name string, keyCodec Codec[UK], valueCodec Codec[UV], opts ...Option) (*MapState[UK, UV], error) {
	o := applyOptions(opts)
	if err := b.register(StateDesc{Name: name, Kind: "map", Type: typeName[UK]() + " -> " + typeName[UV]()}, nil); err != nil {
		return nil, err
	}
	return &MapState[UK, UV]{b: b, name: name, prefix: statePrefix(b.opts.OperatorID, name), ukc: keyCodec, uvc: valueCodec, ttl: o.ttl}, nil
}

// SetNamespace scopes later accesses to namespace ns.
func (s *MapState[UK, UV]) SetNamespace(ns []byte) { s.ns = append(s.ns[:0], ns...) }

// mapPrefix sets s.sk to the store-key prefix of the current key's map.
func (s *MapState[UK, UV]) mapPrefix() error {
	if !s.b.hasKey {
		return ErrNoCurrentKey
	}
	s.sk = binary.BigEndian.AppendUint16(s.sk[:0], uint16(s.b.kg))
	s.sk = append(s.sk, s.prefix...)
	s.sk = appendCacheKey(s.sk, s.b.key, s.ns)
	return nil
}

func (s *MapState[UK, UV]) entryKey(uk UK) error {
	if err := s.mapPrefix(); err != nil {
		return err
	}
	s.sk = s.ukc.Append(s.sk, uk)
	return nil
}

// decodeValue strips and checks the TTL header; expired reports an expired
// entry.
func (s *MapState[UK, UV]) decodeValue(raw []byte) (v UV, expired bool, err error) {
	if s.ttl.enabled() {
		if len(raw) < ttlHeader {
			return v, false, fmt.Errorf("state: map %q: %w: value shorter than its TTL header", s.name, ErrCorrupt)
		}
		touched := int64(binary.BigEndian.Uint64(raw))
		if s.b.opts.Clock.Now().UnixMilli()-touched >= s.ttl.TTL.Milliseconds() {
			return v, true, nil
		}
		raw = raw[ttlHeader:]
	}
	v, err = s.uvc.Decode(raw)
	if err != nil {
		return v, false, fmt.Errorf("state: map %q: %w", s.name, err)
	}
	return v, false, nil
}

// Get returns the value of uk in the current key's map.
func (s *MapState[UK, UV]) Get(uk UK) (UV, bool, error) {
	var zero UV
	if err := s.entryKey(uk); err != nil {
		return zero, false, err
	}
	raw, found, err := s.b.store.Get(s.sk)
	if err != nil || !found {
		return zero, false, err
	}
	v, expired, err := s.decodeValue(raw)
	if err != nil {
		return zero, false, err
	}
	if expired {
		return zero, false, s.b.store.Delete(s.sk)
	}
	if s.ttl.enabled() && s.ttl.UpdateOnRead {
		return v, true, s.put(v)
	}
	return v, true, nil
}

// Contains reports whether uk is in the current key's map.
func (s *MapState[UK, UV]) Contains(uk UK) (bool, error) {
	_, ok, err := s.Get(uk)
	return ok, err
}

// Put sets uk to v in the current key's map.
func (s *MapState[UK, UV]) Put(uk UK, v UV) error {
	if err := s.entryKey(uk); err != nil {
		return err
	}
	return s.put(v)
}

// put writes v at s.sk.
func (s *MapState[UK, UV]) put(v UV) error {
	s.vb = s.vb[:0]
	if s.ttl.enabled() {
		s.vb = binary.BigEndian.AppendUint64(s.vb, uint64(s.b.opts.Clock.Now().UnixMilli()))
	}
	s.vb = s.uvc.Append(s.vb, v)
	if err := s.b.store.Set(s.sk, s.vb); err != nil {
		return fmt.Errorf("state: map %q: %w", s.name, err)
	}
	return nil
}

// Remove deletes uk from the current key's map.
func (s *MapState[UK, UV]) Remove(uk UK) error {
	if err := s.entryKey(uk); err != nil {
		return err
	}
	return s.b.store.Delete(s.sk)
}

// Range calls fn for each entry of the current key's map, in user-key byte
// order, until fn returns false. fn must not modify this map state; collect
// the keys and modify after Range returns.
func (s *MapState[UK, UV]) Range(fn func(uk UK, v UV) bool) error {
	if err := s.mapPrefix(); err != nil {
		return err
	}
	lower := bytes.Clone(s.sk)
	upper := prefixEnd(lower)
	var ferr error
	var expiredKeys [][]byte
	err := s.b.store.Scan(lower, upper, func(k, raw []byte) bool {
		uk, err := s.ukc.Decode(k[len(lower):])
		if err != nil {
			ferr = fmt.Errorf("state: map %q: key: %w", s.name, err)
			return false
		}
		v, expired, err := s.decodeValue(raw)
		if err != nil {
			ferr = err
			return false
		}
		if expired {
			expiredKeys = append(expiredKeys, bytes.Clone(k))
			return true
		}
		return fn(uk, v)
	})
	if err == nil {
		err = ferr
	}
	for _, k := range expiredKeys {
		if derr := s.b.store.Delete(k); err == nil && derr != nil {
			err = derr
		}
	}
	return err
}

// IsEmpty reports whether the current key's map has no (unexpired) entries.
func (s *MapState[UK, UV]) IsEmpty() (bool, error) {
	empty := true
	err := s.Range(func(UK, UV) bool { empty = false; return false })
	return empty, err
}

// Clear removes the current key's whole map.
func (s *MapState[UK, UV]) Clear() error {
	if err := s.mapPrefix(); err != nil {
		return err
	}
	lower := bytes.Clone(s.sk)
	return s.b.store.DeleteRange(lower, prefixEnd(lower))
}
