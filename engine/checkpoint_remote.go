package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/state"
)

// RemoteCheckpointStorage is a CheckpointStorage that keeps checkpoints off
// this machine, in an object store (connectors/s3/s3checkpoint). The
// directory Begin returns is only a local staging area: each task, on its
// asynchronous snapshot writer (never in its synchronous pause), hands the
// files of every keyed-state snapshot it wrote there to Upload, and the
// objects Upload returns travel in the task's acknowledgement into the
// manifest (SubtaskSnap.Files). Complete then stores the manifest, last;
// Open downloads a complete checkpoint into a local directory that the
// ordinary restore path reads. So per-task uploads and the coordinator's
// manifest are separate steps, as they are when the tasks run in other
// processes.
//
// Savepoints are not uploaded: they go, self-contained, to the directory
// the caller names.
type RemoteCheckpointStorage interface {
	CheckpointStorage
	// Upload stores the files of one snapshot of checkpoint id (store
	// names the keyed store, unique in the job: "<operator uid>/<subtask>")
	// and returns the objects that hold them. It may store an immutable
	// file once for several checkpoints of the same store.
	Upload(ctx context.Context, id int64, store string, files []SnapshotFile) ([]RemoteFile, error)
}

// ErrCheckpointUnavailable is wrapped by a storage's Open when the
// checkpoint could not be read for a reason that may pass (the object
// store unreachable), as opposed to a checkpoint that is missing or
// corrupt: a restart then waits and retries instead of falling back to an
// older checkpoint (or to no state at all).
var ErrCheckpointUnavailable = errors.New("engine: checkpoint storage unavailable")

// SnapshotFile is a file of a snapshot in a checkpoint's staging
// directory.
type SnapshotFile struct {
	// Path is relative to the checkpoint's directory (slash-separated).
	Path string
	// Local is the file's path on this machine.
	Local string
	// Size and CRC32C are known in advance for immutable files only (zero
	// otherwise).
	Size   int64
	CRC32C uint32
	// Immutable files never change under their name in their store
	// (Pebble's sstables): a copy stored once serves every later
	// checkpoint of the store that lists the same name, size and checksum.
	Immutable bool
}

// RemoteFile is an object of a remote checkpoint, as the manifest records
// it.
type RemoteFile struct {
	// Path is the file's path relative to the checkpoint's directory.
	Path string `json:"path"`
	// Key is the object's key relative to the storage's root.
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
	// Shared objects may be referenced by several checkpoints.
	Shared bool `json:"shared,omitempty"`
}

// snapshotFiles lists what a subtask wrote for a checkpoint: the files of
// its snapshot directory rel (an immutable file's size and checksum from
// the Pebble snapshot's own manifest) and its overlay file, if any.
func snapshotFiles(dir, rel, format, overlay string) ([]SnapshotFile, error) {
	known := map[string]state.SnapshotFileInfo{}
	if format == state.SnapshotFormatPebble {
		infos, err := state.ListPebbleSnapshot(filepath.Join(dir, rel))
		if err != nil {
			return nil, err
		}
		for _, f := range infos {
			known[f.Name] = f
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, rel))
	if err != nil {
		return nil, err
	}
	var out []SnapshotFile
	for _, e := range ents {
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("unexpected entry %s in snapshot %s", e.Name(), rel)
		}
		f := SnapshotFile{Path: filepath.ToSlash(filepath.Join(rel, e.Name())), Local: filepath.Join(dir, rel, e.Name())}
		if k, ok := known[e.Name()]; ok && k.Immutable {
			f.Size, f.CRC32C, f.Immutable = k.Size, k.CRC32C, true
		}
		out = append(out, f)
	}
	if overlay != "" {
		out = append(out, SnapshotFile{Path: filepath.ToSlash(overlay), Local: filepath.Join(dir, overlay)})
	}
	return out, nil
}

// uploadSnapshot hands a subtask's snapshot to a remote storage.
func uploadSnapshot(ctx context.Context, rs RemoteCheckpointStorage, id int64, dir, rel, format, overlay string) ([]RemoteFile, error) {
	files, err := snapshotFiles(dir, rel, format, overlay)
	if err != nil {
		return nil, fmt.Errorf("list snapshot files: %w", err)
	}
	return rs.Upload(ctx, id, filepath.ToSlash(rel), files)
}

// EncodeManifest returns the stored form of m (see DecodeManifest): a
// coordinator in another process writes manifests with it.
func EncodeManifest(m *Manifest) ([]byte, error) { return encodeManifest(m) }
