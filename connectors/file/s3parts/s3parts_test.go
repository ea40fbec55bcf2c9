package s3parts_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/connectors/file/s3parts"
	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3test"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
)

func TestMain(m *testing.M) { s3test.Main(m) }

func open(t *testing.T, cfg s3.Config) *s3.Bucket {
	t.Helper()
	b, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type jsonPart[T any] struct{ enc *json.Encoder }

func (p jsonPart[T]) Write(v T) error { return p.enc.Encode(v) }
func (p jsonPart[T]) Close() error    { return nil }

// TestConformance runs the two-phase-commit sink suite on Rolling into a
// bucket: every case a fresh bucket, read back through the S3 API.
func TestConformance(t *testing.T) {
	var mu sync.Mutex
	buckets := map[string]*s3.Bucket{} // by the case's directory
	bucket := func(t *testing.T, dir string) *s3.Bucket {
		mu.Lock()
		defer mu.Unlock()
		b, ok := buckets[dir]
		if !ok {
			cfg := s3test.Config(t)
			cfg.PartSizeBytes = s3.MinPartSize
			b = open(t, cfg)
			buckets[dir] = b
		}
		return b
	}
	conformance.RunSink(t, conformance.Sink{
		Attach: func(t *testing.T, s *engine.Stream[conformance.Rec], dir string) {
			k, err := file.RollingTo(s3parts.New(bucket(t, dir), "out/"), file.RollingOptions[conformance.Rec]{
				NewPart: func(w io.Writer) (file.PartWriter[conformance.Rec], error) {
					return jsonPart[conformance.Rec]{json.NewEncoder(w)}, nil
				},
				Suffix: ".json",
			})
			if err != nil {
				t.Fatal(err)
			}
			engine.SinkTo(s, "files", k)
		},
		Committed: func(t *testing.T, dir string) []conformance.Rec {
			b := bucket(t, dir)
			ctx := context.Background()
			keys, err := b.List(ctx, "out/")
			if err != nil {
				t.Fatal(err)
			}
			var out []conformance.Rec
			for _, k := range keys {
				if strings.HasPrefix(k, "out/"+s3parts.JournalDir) {
					continue
				}
				body, err := b.Get(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				sc := bufio.NewScanner(bytes.NewReader(body))
				for sc.Scan() {
					var r conformance.Rec
					if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
						t.Fatalf("%s: %v", k, err)
					}
					out = append(out, r)
				}
			}
			return out
		},
	})
}

// TestPartsStreamAndCleanup writes a part file of several S3 parts,
// commits it, leaves another uncommitted as a failed writer would, and
// checks that Cleanup aborts exactly the orphan (MinIO lists uploads only
// by exact key, which the test knows) and leaves no journal behind.
func TestPartsStreamAndCleanup(t *testing.T) {
	cfg := s3test.Config(t)
	cfg.PartSizeBytes = s3.MinPartSize
	b := open(t, cfg)
	ctx := context.Background()
	p := s3parts.New(b, "/data/t/")
	if p.Root() != "data/t/" {
		t.Fatalf("root %q", p.Root())
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), (2*s3.MinPartSize+1000)/16)
	f, err := p.Create(ctx, "k=1/part-a-0-0")
	if err != nil {
		t.Fatal(err)
	}
	for chunk := range slicesChunk(body, 777_777) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	h, err := f.Finish()
	if err != nil {
		t.Fatal(err)
	}
	var u s3.Upload
	if err := json.Unmarshal([]byte(h), &u); err != nil || len(u.Parts) != 3 {
		t.Fatalf("handle %s (%v): want an upload of 3 parts", h, err)
	}
	if keys, _ := b.List(ctx, "data/t/k=1/"); len(keys) != 0 {
		t.Fatalf("a finished, uncommitted part is visible: %v", keys)
	}
	orphan, err := p.Create(ctx, "part-a-0-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := orphan.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(ctx, "k=1/part-a-0-0", h); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(ctx, "k=1/part-a-0-0", h); err != nil {
		t.Fatalf("a second commit of the same part: %v", err)
	}
	if err := p.Commit(ctx, "k=1/part-a-0-9", h); err == nil {
		t.Fatal("a handle committed under another key was accepted")
	}
	got, err := b.Get(ctx, "data/t/k=1/part-a-0-0")
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("committed object: %d bytes (%v), want %d", len(got), err, len(body))
	}
	if ups, _ := b.ListUploads(ctx, "data/t/part-a-0-1"); len(ups) != 1 {
		t.Fatalf("the orphan's upload: %v", ups)
	}
	if err := p.Cleanup(ctx, func(key string) bool { return strings.Contains(key, "part-") }); err != nil {
		t.Fatal(err)
	}
	if ups, _ := b.ListUploads(ctx, "data/t/part-a-0-1"); len(ups) != 0 {
		t.Fatalf("Cleanup left the orphan's upload: %v", ups)
	}
	if j, _ := b.List(ctx, "data/t/"+s3parts.JournalDir); len(j) != 0 {
		t.Fatalf("journal entries left: %v", j)
	}
	if got, err := b.Get(ctx, "data/t/k=1/part-a-0-0"); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("Cleanup touched the committed object: %v", err)
	}
	if err := p.Mark(ctx, "k=1/_SUCCESS"); err != nil {
		t.Fatal(err)
	}
	if keys, _ := b.List(ctx, "data/t/k=1/"); strings.Join(keys, ",") != "data/t/k=1/_SUCCESS,data/t/k=1/part-a-0-0" {
		t.Fatalf("keys %v", keys)
	}
}

func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}
