// Package durable makes file-system changes survive a crash: a file written
// whole or not at all, and directory entries (creations, renames, removals)
// made durable by syncing the directories that hold them.
//
// POSIX makes a rename atomic but not durable: until the directory itself is
// synced, a crash may forget the new name. The writers that publish a file
// by renaming it — checkpoint manifests, the log's metadata, committed sink
// output (through connectors/internal/localdir) — and the directory syncs
// of state snapshots and the log's storage go through this package, so that
// the rule lives in one place.
//
// The functions are safe for concurrent use on different paths; two writers
// racing on one path leave one of their contents, never a mix.
package durable

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// SyncDir fsyncs each directory, making the entries created, renamed or
// removed in it durable.
func SyncDir(dirs ...string) error {
	for _, dir := range dirs {
		d, err := os.Open(dir)
		if err != nil {
			return fmt.Errorf("sync dir: %w", err)
		}
		err = d.Sync()
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("sync dir %s: %w", dir, err)
		}
	}
	return nil
}

// SyncDirAndParent makes dir's entries and dir's own entry in its parent
// durable: what a newly created or renamed directory needs.
func SyncDirAndParent(dir string) error {
	return SyncDir(dir, filepath.Dir(dir))
}

// WriteFileSync creates or truncates path, writes data and fsyncs the file.
// It does not sync the directory: use it for a file that a later rename or
// SyncDir publishes.
func WriteFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFile replaces path with data atomically and durably: data goes to a
// synced temporary file beside path (named with TempPrefix and a random
// suffix, so that concurrent writers and a crashed earlier attempt never
// collide), which is renamed over path, and then the directory is synced.
// After a crash path holds either its old or its new contents; a leftover
// temporary file is recognisable by IsTemp.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := TempName(path)
	if err != nil {
		return err
	}
	if err := WriteFileSync(tmp, data, perm); err != nil {
		_ = os.Remove(tmp) // the write already failed; the temp file is garbage
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp) // never published; the rename's error is the one to report
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// Rename renames oldpath to newpath and syncs the directories of both, so
// that the rename survives a crash.
func Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	od, nd := filepath.Dir(oldpath), filepath.Dir(newpath)
	if od == nd {
		return SyncDir(nd)
	}
	return SyncDir(nd, od)
}

// TempPrefix begins the names of the temporary files WriteFile creates.
const TempPrefix = ".tmp-"

// TempName returns a fresh name for a temporary file beside path:
// TempPrefix, the base name, and a random suffix.
func TempName(path string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("temp name: %w", err)
	}
	return filepath.Join(filepath.Dir(path), TempPrefix+filepath.Base(path)+"."+hex.EncodeToString(b[:])), nil
}

// IsTemp reports whether a directory entry's name is a temporary file left
// by WriteFile (one that a crash interrupted), which cleanup may remove.
func IsTemp(name string) bool {
	return len(name) > len(TempPrefix) && name[:len(TempPrefix)] == TempPrefix
}
