// Package s3parts is the S3 PartStore of connectors/file's Rolling sink
// (the SQL filesystem table with an s3:// path): a part file is a
// multipart upload, streamed in parts while it is written and completed —
// made visible — by the sink's global committer when the checkpoint after
// it completes, as Flink's S3 file sink does.
//
// An upload that no checkpoint names (its writer failed before the next
// checkpoint) would stay invisible but billed forever, and S3-compatible
// servers do not all list uploads by prefix (MinIO lists them only for an
// exact key). So every upload has a journal entry, a small object under
// the root's ".sluice-staging/" (hidden: readers of the table skip names
// starting with '.'), written before its first part and deleted when the
// upload is completed or aborted; Cleanup aborts the uploads of the
// entries left.
package s3parts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/connectors/s3"
)

// commitTimeout bounds one part's commit, which the job's cancellation
// does not interrupt.
const commitTimeout = 2 * time.Minute

// JournalDir is the directory, under the root, of the journal entries.
const JournalDir = ".sluice-staging/"

// Parts is a file.PartStore under a prefix of a bucket.
type Parts struct {
	b    *s3.Bucket
	root string // "" or ending in "/"
}

var _ file.PartStore = (*Parts)(nil)

// New returns the store of the keys under prefix in b. A part file holds
// one part of b's part size in memory while it is written.
func New(b *s3.Bucket, prefix string) *Parts {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Parts{b: b, root: prefix}
}

// Root is the prefix keys are under ("" or ending in "/").
func (p *Parts) Root() string { return p.root }

func (p *Parts) journalKey(u s3.Upload) string {
	h := sha256.Sum256([]byte(u.Key + "\x00" + u.UploadID))
	return p.root + JournalDir + hex.EncodeToString(h[:16]) + ".json"
}

// Create implements file.PartStore: it starts the multipart upload of
// key and writes its journal entry.
func (p *Parts) Create(ctx context.Context, key string) (file.PartFile, error) {
	u, err := p.b.Begin(ctx, p.root+key)
	if err != nil {
		return nil, err
	}
	entry, err := json.Marshal(s3.Upload{Key: u.Key, UploadID: u.UploadID})
	if err == nil {
		err = p.b.Put(ctx, p.journalKey(u), entry)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("s3parts: journal of %s: %w", u.Key, err), p.b.Abort(context.WithoutCancel(ctx), u))
	}
	return &part{p: p, ctx: ctx, u: u, buf: make([]byte, 0, p.b.PartSize())}, nil
}

type part struct {
	p   *Parts
	ctx context.Context
	u   s3.Upload
	buf []byte
	err error
}

// Write buffers b and uploads every full part.
func (w *part) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(b)
	size := int(w.p.b.PartSize())
	for len(b) > 0 {
		k := min(len(b), size-len(w.buf))
		w.buf = append(w.buf, b[:k]...)
		b = b[k:]
		if len(w.buf) == size {
			if w.err = w.p.b.UploadPart(w.ctx, &w.u, w.buf); w.err != nil {
				return n - len(b), w.err
			}
			w.buf = w.buf[:0]
		}
	}
	return n, nil
}

// Finish uploads the last part; the handle is the upload with its parts.
func (w *part) Finish() (string, error) {
	if w.err != nil {
		return "", w.err
	}
	if len(w.buf) > 0 || len(w.u.Parts) == 0 {
		if err := w.p.b.UploadPart(w.ctx, &w.u, w.buf); err != nil {
			return "", err
		}
	}
	w.buf = nil
	h, err := json.Marshal(w.u)
	return string(h), err
}

// Abort aborts the upload and removes its journal entry.
func (w *part) Abort() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), time.Minute)
	defer cancel()
	// Best effort: what remains is aborted by the next attempt's Cleanup.
	if w.p.b.Abort(ctx, w.u) == nil {
		_ = w.p.b.Delete(ctx, w.p.journalKey(w.u))
	}
	w.buf = nil
}

// Commit implements file.PartStore: it completes the upload (one
// completed before succeeds) and removes its journal entry.
func (p *Parts) Commit(ctx context.Context, key, handle string) error {
	var u s3.Upload
	if err := json.Unmarshal([]byte(handle), &u); err != nil {
		return fmt.Errorf("s3parts: corrupt handle of %s: %w", key, err)
	}
	if u.Key != p.root+key {
		return fmt.Errorf("s3parts: handle of %s names the upload of %s", p.root+key, u.Key)
	}
	// Not interrupted when the job is cancelled: a server may not complete
	// an upload atomically when its client goes away (MinIO can leave the
	// upload without its parts and without the object), and no later
	// commit could then make the part visible.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := p.b.Complete(ctx, u); err != nil {
		return err
	}
	return p.b.Delete(ctx, p.journalKey(u))
}

// Mark implements file.PartStore.
func (p *Parts) Mark(ctx context.Context, key string) error {
	return p.b.Put(ctx, p.root+key, nil)
}

// Cleanup implements file.PartStore: it aborts the upload of every
// journal entry whose key isPart accepts (aborting one that was completed
// leaves its object alone) and removes the entry.
func (p *Parts) Cleanup(ctx context.Context, isPart func(key string) bool) error {
	entries, err := p.b.List(ctx, p.root+JournalDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		body, err := p.b.Get(ctx, e)
		if err != nil {
			if errors.Is(err, s3.ErrNoSuchKey) {
				continue // removed meanwhile
			}
			return err
		}
		var u s3.Upload
		if err := json.Unmarshal(bytes.TrimSpace(body), &u); err != nil || !strings.HasPrefix(u.Key, p.root) {
			return fmt.Errorf("s3parts: journal entry %s is corrupt: %q", e, body)
		}
		if !isPart(strings.TrimPrefix(u.Key, p.root)) {
			continue
		}
		if err := p.b.Abort(ctx, u); err != nil {
			return err
		}
		if err := p.b.Delete(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
