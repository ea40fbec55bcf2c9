package firehose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/connectors/internal/localdir"
	"github.com/sluicehq/sluice/connectors/s3"
)

// ObjectStore is an object destination with a two-phase write: Stage
// writes an object invisibly, Commit makes it visible under its key, Abort
// discards it. A staged object survives the process: its Staged handle is
// serialisable (checkpoints store it) and a new process can Commit or
// Abort it, or find it with ListStaged. Commit and Abort are idempotent.
// Put is stage and commit at once (Firehose's at-least-once path).
//
// Implementations are safe for concurrent use; every method blocks until
// the store answers or ctx is done.
type ObjectStore interface {
	Put(ctx context.Context, key string, body []byte) error
	Stage(ctx context.Context, key string, body []byte) (Staged, error)
	Commit(ctx context.Context, s Staged) error
	Abort(ctx context.Context, s Staged) error
	// ListStaged returns the staged, uncommitted objects whose key starts
	// with prefix.
	ListStaged(ctx context.Context, prefix string) ([]Staged, error)
}

// JournalStore is an ObjectStore that can also list, read and delete
// visible objects. The exactly-once Sink keeps its staging journal (one
// small object per staged object, see Sink) in one; DirStore and S3Store
// implement it.
type JournalStore interface {
	ObjectStore
	// List returns the keys of the visible objects under prefix, in
	// order.
	List(ctx context.Context, prefix string) ([]string, error)
	// Get reads an object; a missing one gives an error wrapping
	// fs.ErrNotExist.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes an object; deleting a missing one succeeds.
	Delete(ctx context.Context, key string) error
}

// StagedVersion is the current version of the Staged encoding.
const StagedVersion = 1

// Staged is a handle to a staged object. Its JSON form (Marshal) is a
// durable, versioned format.
type Staged struct {
	Version int    `json:"v"`
	Store   string `json:"store"` // "s3" or "dir"
	Key     string `json:"key"`
	// S3: the multipart upload.
	UploadID string    `json:"upload_id,omitempty"`
	Parts    []s3.Part `json:"parts,omitempty"`
	// Directory: the hidden temporary file, relative to the root.
	Temp string `json:"temp,omitempty"`
	// Dest is "backup" for an object staged in a stream's backup
	// destination, empty for its main destination (Stream.Commit and
	// Abort pick the store by it).
	Dest string `json:"dest,omitempty"`
}

// DestBackup is Staged.Dest for objects of the backup destination.
const DestBackup = "backup"

// Marshal encodes s.
func (s Staged) Marshal() ([]byte, error) { return json.Marshal(s) }

// UnmarshalStaged decodes a handle written by Marshal.
func UnmarshalStaged(b []byte) (Staged, error) {
	var s Staged
	if err := json.Unmarshal(b, &s); err != nil {
		return Staged{}, fmt.Errorf("firehose: staged handle: %w", err)
	}
	if s.Version != StagedVersion {
		return Staged{}, fmt.Errorf("firehose: staged handle version %d is not supported (want %d)", s.Version, StagedVersion)
	}
	return s, nil
}

// DirStore is a local-directory ObjectStore. Keys are slash-separated
// paths under the root. Staging writes and fsyncs a hidden temporary file
// in the object's directory (".<name>.sluice-staged-<random>"); Commit
// renames it over the final name (atomic on POSIX file systems) and syncs
// the directory. It is connectors/internal/localdir, the writer the file
// sink uses too.
type DirStore struct {
	d *localdir.Dir
}

const stagedMarker = localdir.StagedMarker

// NewDirStore returns a store rooted at dir (created if missing).
func NewDirStore(dir string) (*DirStore, error) {
	d, err := localdir.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("firehose: directory destination: %w", err)
	}
	return &DirStore{d: d}, nil
}

// Put writes key atomically.
func (d *DirStore) Put(ctx context.Context, key string, body []byte) error {
	s, err := d.Stage(ctx, key, body)
	if err != nil {
		return err
	}
	return d.Commit(ctx, s)
}

// Stage writes body to a hidden file beside key's final path.
func (d *DirStore) Stage(ctx context.Context, key string, body []byte) (Staged, error) {
	if _, err := d.d.Path(key); err != nil {
		return Staged{}, fmt.Errorf("firehose: %w", err)
	}
	tmp, err := localdir.StagedKey(key)
	if err == nil {
		err = d.d.Stage(tmp, body)
	}
	if err != nil {
		return Staged{}, fmt.Errorf("firehose: stage %s: %w", key, err)
	}
	return Staged{Version: StagedVersion, Store: "dir", Key: key, Temp: tmp}, nil
}

// Commit renames the staged file to its key. Committing a handle whose
// file is gone while the key exists succeeds (it was committed before).
func (d *DirStore) Commit(ctx context.Context, s Staged) error {
	if s.Store != "dir" || s.Temp == "" {
		return fmt.Errorf("firehose: not a directory staged handle: %+v", s)
	}
	if err := d.d.Commit(s.Temp, s.Key, true); err != nil {
		return fmt.Errorf("firehose: %w", err)
	}
	return nil
}

// Abort removes the staged file.
func (d *DirStore) Abort(ctx context.Context, s Staged) error {
	if err := d.d.Remove(s.Temp); err != nil {
		return fmt.Errorf("firehose: abort %s: %w", s.Key, err)
	}
	return nil
}

// ListStaged walks the directory for staged files under prefix (only the
// part of the tree that prefix's directories name).
func (d *DirStore) ListStaged(ctx context.Context, prefix string) ([]Staged, error) {
	var out []Staged
	err := d.d.Walk(prefix, func(rel, name string) {
		if key, ok := localdir.KeyOfStaged(rel); ok && strings.HasPrefix(key, prefix) {
			out = append(out, Staged{Version: StagedVersion, Store: "dir", Key: key, Temp: rel})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("firehose: list staged: %w", err)
	}
	return out, nil
}

// List implements JournalStore: the visible files under prefix (staged
// temporary files are not listed).
func (d *DirStore) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := d.d.Walk(prefix, func(key, name string) {
		if !strings.Contains(name, stagedMarker) && strings.HasPrefix(key, prefix) {
			out = append(out, key)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("firehose: list %s: %w", prefix, err)
	}
	sort.Strings(out)
	return out, nil
}

// Get implements JournalStore.
func (d *DirStore) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := d.d.Path(key)
	if err != nil {
		return nil, fmt.Errorf("firehose: %w", err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("firehose: get %s: %w", key, err)
	}
	return b, nil
}

// Delete implements JournalStore.
func (d *DirStore) Delete(ctx context.Context, key string) error {
	if err := d.d.Remove(key); err != nil {
		return fmt.Errorf("firehose: delete %s: %w", key, err)
	}
	return nil
}

// S3Store is an ObjectStore on an S3 bucket. Stage leaves an uncompleted
// multipart upload; Commit completes it. Put uses one PUT for small
// objects and a multipart upload for large ones.
type S3Store struct {
	B *s3.Bucket
}

// Put implements ObjectStore.
func (s *S3Store) Put(ctx context.Context, key string, body []byte) error {
	return s.B.Put(ctx, key, body)
}

// Stage implements ObjectStore.
func (s *S3Store) Stage(ctx context.Context, key string, body []byte) (Staged, error) {
	u, err := s.B.Stage(ctx, key, body)
	if err != nil {
		return Staged{}, err
	}
	return Staged{Version: StagedVersion, Store: "s3", Key: u.Key, UploadID: u.UploadID, Parts: u.Parts}, nil
}

// Commit implements ObjectStore.
func (s *S3Store) Commit(ctx context.Context, st Staged) error {
	if st.Store != "s3" {
		return fmt.Errorf("firehose: not an S3 staged handle: %+v", st)
	}
	return s.B.Complete(ctx, s3.Upload{Key: st.Key, UploadID: st.UploadID, Parts: st.Parts})
}

// Abort implements ObjectStore.
func (s *S3Store) Abort(ctx context.Context, st Staged) error {
	return s.B.Abort(ctx, s3.Upload{Key: st.Key, UploadID: st.UploadID})
}

// List implements JournalStore.
func (s *S3Store) List(ctx context.Context, prefix string) ([]string, error) {
	return s.B.List(ctx, prefix)
}

// Get implements JournalStore.
func (s *S3Store) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := s.B.Get(ctx, key)
	if errors.Is(err, s3.ErrNoSuchKey) {
		return nil, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return b, err
}

// Delete implements JournalStore.
func (s *S3Store) Delete(ctx context.Context, key string) error { return s.B.Delete(ctx, key) }

// ListStaged implements ObjectStore (parts are listed at Commit).
func (s *S3Store) ListStaged(ctx context.Context, prefix string) ([]Staged, error) {
	ups, err := s.B.ListUploads(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]Staged, len(ups))
	for i, u := range ups {
		out[i] = Staged{Version: StagedVersion, Store: "s3", Key: u.Key, UploadID: u.UploadID}
	}
	return out, nil
}
