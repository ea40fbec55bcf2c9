// Package localdir is the exactly-once writer of a local output directory
// that the file sink (connectors/file) and the Firehose directory
// destination (firehose.DirStore) share.
//
// Output is staged in a hidden file beside its final name, written and
// fsynced whole, and committed by renaming it over the final name; the
// rename and the directories it touches are synced (internal/durable), so
// a committed file survives a crash and a reader never sees a partial
// one. Commit is idempotent: committing a staged file that is gone while
// its final name exists succeeds, because a commit before a crash did it.
// A staged file that nobody commits is removed with Abort; Walk finds
// what a crashed process left.
//
// Keys are slash-separated paths relative to the directory's root, never
// absolute and never with "..". A Dir is safe for concurrent use on
// different keys.
package localdir

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicehq/sluice/internal/durable"
)

// Dir is an output directory.
type Dir struct {
	root string
}

// Open returns the directory root, created if missing.
func Open(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("localdir: no directory")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("localdir: %w", err)
	}
	return &Dir{root: root}, nil
}

// Root returns the directory's path.
func (d *Dir) Root() string { return d.root }

// Path returns the file path of key, refusing keys that leave the
// directory.
func (d *Dir) Path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return "", fmt.Errorf("localdir: invalid key %q", key)
	}
	for _, el := range strings.Split(key, "/") {
		if el == ".." {
			return "", fmt.Errorf("localdir: key %q escapes the directory", key)
		}
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// StagedMarker is in the name of every file StagedKey names.
const StagedMarker = ".sluice-staged-"

// StagedKey returns a fresh key to stage key's content in: a hidden name
// beside key, ".<name>.sluice-staged-<random>".
func StagedKey(key string) (string, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("localdir: staged name: %w", err)
	}
	dir, base := "", key
	if i := strings.LastIndex(key, "/"); i >= 0 {
		dir, base = key[:i+1], key[i+1:]
	}
	return dir + "." + base + StagedMarker + hex.EncodeToString(rnd[:]), nil
}

// KeyOfStaged returns the key a file named by StagedKey stages, and
// whether rel (a slash-separated path relative to the root) is one.
func KeyOfStaged(rel string) (string, bool) {
	dir, name := "", rel
	if i := strings.LastIndex(rel, "/"); i >= 0 {
		dir, name = rel[:i+1], rel[i+1:]
	}
	i := strings.Index(name, StagedMarker)
	if !strings.HasPrefix(name, ".") || i < 1 {
		return "", false
	}
	return dir + name[1:i], true
}

// Stage writes body to the new file staged (a key that must not exist),
// synced, creating its directories. On error nothing is left.
func (d *Dir) Stage(staged string, body []byte) error {
	f, err := d.Create(staged)
	if err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		f.Abort()
		return err
	}
	return f.Close()
}

// File is a staged file being written. It is not safe for concurrent use.
type File struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

// Create creates the new file staged (a key that must not exist) for
// writing, creating its directories.
func (d *Dir) Create(staged string) (*File, error) {
	p, err := d.Path(staged)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("localdir: stage %s: %w", staged, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("localdir: stage %s: %w", staged, err)
	}
	return &File{path: p, f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

// Write implements io.Writer (buffered).
func (f *File) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	if err != nil {
		err = fmt.Errorf("localdir: %s: %w", f.path, err)
	}
	return n, err
}

// Close flushes, syncs and closes the file: it is then ready to commit.
func (f *File) Close() error {
	err := f.w.Flush()
	if err == nil {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("localdir: %s: %w", f.path, err)
	}
	return nil
}

// Abort closes and removes the file.
func (f *File) Abort() {
	f.f.Close()
	os.Remove(f.path) // best effort: a leftover is found again as staged
}

// ErrTaken is returned by an exclusive Commit whose final name another
// file holds.
var ErrTaken = errors.New("localdir: the final name is taken by another file")

// Commit renames the staged file to final, durably. If staged is gone and
// final exists, a commit before did it and Commit succeeds. With replace,
// an existing final file is replaced; without, it is an error wrapping
// ErrTaken (output would be lost silently otherwise).
func (d *Dir) Commit(staged, final string, replace bool) error {
	sp, err := d.Path(staged)
	if err != nil {
		return err
	}
	fp, err := d.Path(final)
	if err != nil {
		return err
	}
	if !replace {
		if _, err := os.Lstat(fp); err == nil {
			if _, serr := os.Lstat(sp); errors.Is(serr, fs.ErrNotExist) {
				return nil // committed before
			}
			return fmt.Errorf("localdir: commit %s: %w", final, ErrTaken)
		}
	}
	if err := durable.Rename(sp, fp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Lstat(fp); serr == nil {
				return nil // committed before
			}
		}
		return fmt.Errorf("localdir: commit %s: %w", final, err)
	}
	return nil
}

// Remove removes the file of key; a missing one is no error.
func (d *Dir) Remove(key string) error {
	p, err := d.Path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localdir: remove %s: %w", key, err)
	}
	return nil
}

// Walk calls fn with the slash-separated path relative to the root and
// the name of every file under the directory of prefix (the part up to
// its last slash; the root if it has none). A missing directory holds
// nothing.
func (d *Dir) Walk(prefix string, fn func(rel, name string)) error {
	start := d.root
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		var err error
		if start, err = d.Path(prefix[:i]); err != nil {
			return err
		}
	}
	return filepath.WalkDir(start, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if de.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		fn(filepath.ToSlash(rel), de.Name())
		return nil
	})
}
