package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/durable"
	"github.com/sluicehq/sluice/state"
)

// CheckpointStorage is where completed checkpoints live. A checkpoint is a
// directory of state snapshots plus a manifest; it exists (is complete) once
// Complete has stored its manifest. LocalStorage keeps them in a local
// directory; an object-store implementation uploads the directory in
// Complete and downloads it in Open.
type CheckpointStorage interface {
	// Begin returns an empty local directory to write checkpoint id into.
	Begin(id int64) (dir string, err error)
	// Complete makes checkpoint id durable and complete, storing its
	// manifest last.
	Complete(id int64, manifest []byte) error
	// Abort removes what was written for an incomplete checkpoint.
	Abort(id int64) error
	// List returns the ids of the complete checkpoints, newest first.
	List() ([]int64, error)
	// Open returns the local directory of complete checkpoint id.
	Open(id int64) (dir string, err error)
	// Remove deletes checkpoint id.
	Remove(id int64) error
}

// LocalStorage keeps checkpoints as directories chk-<id> in Dir.
type LocalStorage struct{ Dir string }

func (s LocalStorage) path(id int64) string {
	return filepath.Join(s.Dir, fmt.Sprintf("chk-%d", id))
}

// Begin implements CheckpointStorage; a leftover directory of a checkpoint
// that never completed (a crashed run) is replaced.
func (s LocalStorage) Begin(id int64) (string, error) {
	p := s.path(id)
	if err := os.RemoveAll(p); err != nil {
		return "", fmt.Errorf("engine: checkpoint storage: %w", err)
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", fmt.Errorf("engine: checkpoint storage: %w", err)
	}
	return p, nil
}

// Complete implements CheckpointStorage: the manifest is written to a
// temporary file, synced, and renamed into place.
func (s LocalStorage) Complete(id int64, manifest []byte) error {
	return writeFileAtomic(filepath.Join(s.path(id), ManifestFile), manifest)
}

// Abort implements CheckpointStorage.
func (s LocalStorage) Abort(id int64) error { return os.RemoveAll(s.path(id)) }

// Remove implements CheckpointStorage.
func (s LocalStorage) Remove(id int64) error { return os.RemoveAll(s.path(id)) }

// Open implements CheckpointStorage.
func (s LocalStorage) Open(id int64) (string, error) {
	p := s.path(id)
	if _, err := os.Stat(filepath.Join(p, ManifestFile)); err != nil {
		return "", fmt.Errorf("engine: checkpoint %d in %s is not complete: %w", id, s.Dir, err)
	}
	return p, nil
}

// List implements CheckpointStorage.
func (s LocalStorage) List() ([]int64, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("engine: checkpoint storage: %w", err)
	}
	var ids []int64
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "chk-")
		if !ok || !e.IsDir() {
			continue
		}
		id, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.Dir, e.Name(), ManifestFile)); err == nil {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b int64) int { return int(b - a) })
	return ids, nil
}

// writeFileAtomic writes data to path through a synced temporary file and
// a rename, then syncs the directory (internal/durable).
func writeFileAtomic(path string, data []byte) error {
	return durable.WriteFile(path, data, 0o644)
}

// ManifestFile is the name of a checkpoint's or savepoint's manifest.
const ManifestFile = "_manifest.json"

// ManifestVersion is the version of the manifest format.
const ManifestVersion = 1

// Manifest describes a complete checkpoint or savepoint: for every
// operator and subtask, its keyed state snapshot (a directory relative to
// the manifest), its operator state and its source position. It is stored as
// JSON with a CRC-32C of its bytes (see encodeManifest).
type Manifest struct {
	Version        int                `json:"version"`
	Job            string             `json:"job"`
	CheckpointID   int64              `json:"checkpoint_id"`
	Savepoint      bool               `json:"savepoint"`
	Time           time.Time          `json:"time"`
	MaxParallelism int                `json:"max_parallelism"`
	LayoutVersion  int                `json:"layout_version"`
	Operators      []ManifestOperator `json:"operators"`
}

// ManifestOperator is one operator's part of a manifest.
type ManifestOperator struct {
	UID         string        `json:"uid"`
	Name        string        `json:"name"`
	Parallelism int           `json:"parallelism"`
	Subtasks    []SubtaskSnap `json:"subtasks"`
	// The snapshot of a SplitSource's split coordinator. Manifests written
	// before split coordinators existed lack both fields, which reads as
	// no coordinator state.
	CoordinatorState []byte `json:"coordinator_state,omitempty"`
	HasCoordinator   bool   `json:"has_coordinator,omitempty"`
}

// SubtaskSnap is one subtask's snapshot of one operator.
type SubtaskSnap struct {
	Subtask int `json:"subtask"`
	// Keyed state.
	Keyed       bool                `json:"keyed,omitempty"`
	KeyGroups   state.KeyGroupRange `json:"key_groups"`
	States      []state.StateDesc   `json:"states,omitempty"`
	StateDir    string              `json:"state_dir,omitempty"`
	StateFormat string              `json:"state_format,omitempty"`
	// Overlay is a file of writes (relative to the manifest) to apply over
	// the restored state: the dirty state-cache entries at the checkpoint.
	Overlay string `json:"overlay,omitempty"`
	// Operator (non-keyed) state: entries redistributed round robin when
	// restored at another parallelism.
	OperatorState [][]byte `json:"operator_state,omitempty"`
	// Source position, for source operators.
	Position    []byte `json:"position,omitempty"`
	HasPosition bool   `json:"has_position,omitempty"`
	// Files are the objects a RemoteCheckpointStorage stored the keyed
	// state snapshot and overlay as (absent for local storage).
	Files []RemoteFile `json:"files,omitempty"`
}

// manifestEnvelope is the stored form: the manifest's bytes and their CRC.
type manifestEnvelope struct {
	CRC32C   uint32          `json:"crc32c"`
	Manifest json.RawMessage `json:"manifest"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeManifest stores m as compact JSON inside an envelope with its
// CRC-32C. (The envelope embeds the bytes unchanged only when they are
// compact: encoding/json compacts embedded raw JSON.)
func encodeManifest(m *Manifest) ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(manifestEnvelope{CRC32C: crc32.Checksum(raw, castagnoli), Manifest: raw})
	return append(b, '\n'), err
}

// ErrCorruptCheckpoint wraps every problem found in a checkpoint or
// savepoint being restored.
var ErrCorruptCheckpoint = errors.New("engine: corrupt checkpoint")

// ReadManifest reads and checks the manifest in dir.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptCheckpoint, path, err)
	}
	return DecodeManifest(b, path)
}

// DecodeManifest checks and decodes the stored bytes of a manifest; path
// names it in errors (a file, or an object's key).
func DecodeManifest(b []byte, path string) (*Manifest, error) {
	var env manifestEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%w: %s: not a manifest (truncated?): %v", ErrCorruptCheckpoint, path, err)
	}
	if got := crc32.Checksum(env.Manifest, castagnoli); got != env.CRC32C {
		return nil, fmt.Errorf("%w: %s: checksum %08x, recorded %08x", ErrCorruptCheckpoint, path, got, env.CRC32C)
	}
	var m Manifest
	if err := json.Unmarshal(env.Manifest, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptCheckpoint, path, err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("%w: %s: manifest version %d, this Sluice reads %d", ErrCorruptCheckpoint, path, m.Version, ManifestVersion)
	}
	if m.LayoutVersion != state.LayoutVersion {
		return nil, fmt.Errorf("%w: %s: state layout version %d, this Sluice reads %d", ErrCorruptCheckpoint, path, m.LayoutVersion, state.LayoutVersion)
	}
	return &m, nil
}

// VerifyCheckpoint reads the manifest in dir and checks every state
// snapshot it names (sizes and checksums of every file).
func VerifyCheckpoint(dir string) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	for _, op := range m.Operators {
		for _, st := range op.Subtasks {
			if st.StateDir == "" {
				continue
			}
			if err := state.VerifySnapshot(filepath.Join(dir, st.StateDir)); err != nil {
				return nil, fmt.Errorf("%w: operator %q subtask %d: %w", ErrCorruptCheckpoint, op.Name, st.Subtask, err)
			}
			if st.Overlay != "" {
				if _, err := state.ReadOverlayFile(filepath.Join(dir, st.Overlay)); err != nil {
					return nil, fmt.Errorf("%w: operator %q subtask %d: %w", ErrCorruptCheckpoint, op.Name, st.Subtask, err)
				}
			}
		}
	}
	return m, nil
}
