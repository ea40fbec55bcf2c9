package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }

var ctx = context.Background()

func TestPutSmallAndMultipart(t *testing.T) {
	cfg := s3test.Config(t)
	cfg.PartSizeBytes = s3.MinPartSize
	b, err := s3.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	small := []byte("hello")
	big := make([]byte, 12<<20) // three parts of 5, 5 and 2 MiB
	rand.Read(big)
	if err := b.Put(ctx, "a/small", small); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "a/big", big); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string][]byte{"a/small": small, "a/big": big} {
		got, err := b.Get(ctx, k)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, err %v", k, len(got), err)
		}
	}
	if ups, _ := b.ListUploads(ctx, "staged/y"); len(ups) != 0 {
		t.Errorf("uploads left: %v", ups)
	}
}

func TestStageCompleteFromAnotherClient(t *testing.T) {
	cfg := s3test.Config(t)
	cfg.PartSizeBytes = s3.MinPartSize
	b, err := s3.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 6<<20)
	rand.Read(body)
	u, err := b.Stage(ctx, "staged/x", body)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Parts) != 2 {
		t.Fatalf("parts %v", u.Parts)
	}
	if keys, _ := b.List(ctx, ""); len(keys) != 0 {
		t.Fatalf("staged object visible: %v", keys)
	}
	gone, err := b.Stage(ctx, "staged/y", []byte("abort me"))
	if err != nil {
		t.Fatal(err)
	}
	// A new client (a new process) finds the uploads and completes one
	// without knowing its parts.
	b2, _ := s3.Open(ctx, cfg)
	var ups []s3.Upload
	for _, k := range []string{"staged/x", "staged/y"} {
		found, err := b2.ListUploads(ctx, k) // exact keys: MinIO does not list by prefix
		if err != nil || len(found) != 1 {
			t.Fatalf("uploads of %s: %v %v", k, found, err)
		}
		ups = append(ups, found...)
	}
	for _, up := range ups {
		switch up.Key {
		case "staged/x":
			if err := b2.Complete(ctx, up); err != nil {
				t.Fatal(err)
			}
			if err := b2.Complete(ctx, up); err != nil {
				t.Fatalf("second complete: %v", err)
			}
		case "staged/y":
			if up.UploadID != gone.UploadID {
				t.Errorf("upload id %s, want %s", up.UploadID, gone.UploadID)
			}
			if err := b2.Abort(ctx, up); err != nil {
				t.Fatal(err)
			}
			if err := b2.Abort(ctx, up); err != nil {
				t.Fatalf("second abort: %v", err)
			}
		}
	}
	keys, _ := b.List(ctx, "")
	if !slices.Equal(keys, []string{"staged/x"}) {
		t.Fatalf("keys %v", keys)
	}
	got, _ := b.Get(ctx, "staged/x")
	if !bytes.Equal(got, body) {
		t.Fatal("content differs")
	}
	if ups, _ := b.ListUploads(ctx, "staged/y"); len(ups) != 0 {
		t.Errorf("uploads left: %v", ups)
	}
}

// TestGetMissingAndDelete: a missing key is reported as ErrNoSuchKey, and
// Delete is idempotent.
func TestGetMissingAndDelete(t *testing.T) {
	b, err := s3.Open(ctx, s3test.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "nope"); !errors.Is(err, s3.ErrNoSuchKey) {
		t.Fatalf("get of a missing key: %v", err)
	}
	if err := b.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := b.Delete(ctx, "k"); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	if keys, _ := b.List(ctx, ""); len(keys) != 0 {
		t.Fatalf("keys after delete: %v", keys)
	}
}
