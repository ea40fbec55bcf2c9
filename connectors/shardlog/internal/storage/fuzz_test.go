package storage

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecover writes arbitrary bytes after a valid segment header, or as a
// whole segment file, and opens the shard: recovery must never panic, and
// whatever it keeps must read back and accept appends.
func FuzzRecover(f *testing.F) {
	dir := f.TempDir()
	s, _ := Open(dir, Options{})
	s.Append(7, []Entry{{Key: []byte("k"), Data: []byte("v")}, {Key: nil, Data: []byte("w")}})
	s.Close()
	valid, _ := os.ReadFile(filepath.Join(dir, segName(0)))
	f.Add(valid[segHeaderSize:], false)
	f.Add(valid, true)
	f.Add([]byte{1, 0, 0, 0}, false)
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, b []byte, whole bool) {
		d := t.TempDir()
		data := b
		if !whole {
			data = append(append([]byte(nil), valid[:segHeaderSize]...), b...)
		}
		if err := os.WriteFile(filepath.Join(d, segName(0)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(d, Options{})
		if err != nil {
			return // refused as corrupt: fine
		}
		defer s.Close()
		var rb ReadBuf
		next, err := s.Read(0, 1000, 1<<20, 0, &rb)
		if err != nil {
			t.Fatalf("recovered log does not read: %v", err)
		}
		if next != s.Next() {
			t.Fatalf("read to %d, next is %d", next, s.Next())
		}
		if off, err := s.Append(1, []Entry{{Key: []byte("x"), Data: []byte("y")}}); err != nil || off != next {
			t.Fatalf("append after recovery: %d %v", off, err)
		}
	})
}
