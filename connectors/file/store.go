package file

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sluicehq/sluice/connectors/internal/localdir"
)

// PartStore is where Rolling keeps its part files: a local directory
// (DirParts) or an object store (connectors/file/s3parts). A part file is
// written staged — invisible to readers — and made visible under its key
// by Commit once the checkpoint after it completes. Keys are
// slash-separated and relative to the store's root.
type PartStore interface {
	// Create starts the staged file of key.
	Create(ctx context.Context, key string) (PartFile, error)
	// Commit makes the staged file that handle names (PartFile.Finish's
	// result, from this process or an earlier one) visible as key.
	// Committing a file that was committed before succeeds, so that a
	// restored checkpoint's commit can be repeated.
	Commit(ctx context.Context, key, handle string) error
	// Mark writes the empty file key, visible at once, replacing one
	// written before (the success file).
	Mark(ctx context.Context, key string) error
	// Cleanup discards every staged file under the root that isPart
	// accepts (by its key) and no commit has made visible: called after
	// the restored checkpoint's commit and before any writer opens, it
	// finds only what no checkpoint covers.
	Cleanup(ctx context.Context, isPart func(key string) bool) error
}

// PartFile is one staged part file being written.
type PartFile interface {
	io.Writer
	// Finish ends the file, still invisible, and returns the handle that
	// Commit takes; it survives the process (checkpoints store it).
	Finish() (handle string, err error)
	// Abort discards the file.
	Abort()
}

// DirParts is the PartStore of a local directory: a part file is written
// hidden beside its final name (localdir's staged names) and renamed by
// Commit; the handle is the hidden file's name.
type DirParts struct {
	d *localdir.Dir
}

// NewDirParts opens (creating it if missing) the directory dir.
func NewDirParts(dir string) (*DirParts, error) {
	d, err := localdir.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	return &DirParts{d: d}, nil
}

// Create implements PartStore.
func (p *DirParts) Create(_ context.Context, key string) (PartFile, error) {
	tmp, err := localdir.StagedKey(key)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	f, err := p.d.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	return &dirPart{f: f, tmp: tmp}, nil
}

type dirPart struct {
	f   *localdir.File
	tmp string
}

func (p *dirPart) Write(b []byte) (int, error) { return p.f.Write(b) }
func (p *dirPart) Abort()                      { p.f.Abort() }

func (p *dirPart) Finish() (string, error) {
	if err := p.f.Close(); err != nil {
		return "", fmt.Errorf("file: %w", err)
	}
	return p.tmp, nil
}

// Commit implements PartStore: a rename (one renamed before is left
// alone).
func (p *DirParts) Commit(_ context.Context, key, handle string) error {
	if err := p.d.Commit(handle, key, false); err != nil {
		return fmt.Errorf("file: commit %s: %w", key, err)
	}
	return nil
}

// Mark implements PartStore: staged and renamed over an older one,
// durably.
func (p *DirParts) Mark(_ context.Context, key string) error {
	tmp, err := localdir.StagedKey(key)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	if err := p.d.Stage(tmp, nil); err != nil {
		return fmt.Errorf("file: %w", err)
	}
	if err := p.d.Commit(tmp, key, true); err != nil {
		return fmt.Errorf("file: %s: %w", key, err)
	}
	return nil
}

// Cleanup implements PartStore: it removes the hidden staged files of
// the keys isPart accepts.
func (p *DirParts) Cleanup(_ context.Context, isPart func(key string) bool) error {
	var garbage []string
	err := p.d.Walk("", func(rel, _ string) {
		if key, ok := localdir.KeyOfStaged(rel); ok && isPart(key) {
			garbage = append(garbage, rel)
		}
	})
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	for _, g := range garbage {
		if err := p.d.Remove(g); err != nil {
			return fmt.Errorf("file: %w", err)
		}
	}
	return nil
}

// baseName is the last element of a slash-separated key.
func baseName(key string) string { return key[strings.LastIndex(key, "/")+1:] }
