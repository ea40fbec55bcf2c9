package video

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzFragmentReader feeds the Matroska reader arbitrary bytes (seeded with
// ffmpeg's output and with streams the tests build): it must end with an
// element stream or an error, never panic or hang; every cluster it reads
// must write back and read again. (What PutMedia acknowledges for bad
// input is TestBadInputErrorsThatFragmentOnly's.)
func FuzzFragmentReader(f *testing.F) {
	f.Add(readFileF(f, "testsrc.mkv"))
	f.Add(readFileF(f, "testsrc.mkv")[:3000])
	t := &testing.T{}
	f.Add(newMKV(t).add(&infoElem{testInfo}).add(&tracksElem{Tracks{TrackEntry: []TrackEntry{videoTrack}}}).add(&clusterElem{cluster(0, 3, 1, 10)}).b)
	f.Add([]byte("not matroska"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := NewFragmentReader(bytes.NewReader(b), 1<<20)
		for {
			el, err := fr.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrNotMatroska) && !errors.Is(err, ErrFragmentTooLarge) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				break
			}
			if el.Kind == KindCluster {
				cb, err := marshalElement(&clusterElem{el.Cluster})
				if err != nil {
					t.Fatalf("a cluster read does not write back: %v", err)
				}
				if _, err := decodeCluster(cb); err != nil {
					t.Fatalf("a cluster written does not read back: %v", err)
				}
			}
		}
		fr.Close()

	})
}

func readFileF(f *testing.F, name string) []byte {
	b, err := readFileErr(name)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
