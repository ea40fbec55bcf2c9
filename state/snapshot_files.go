package state

// SnapshotFileInfo is one file of a Pebble snapshot as the snapshot's
// manifest (PebbleSnapshotManifest) lists it.
type SnapshotFileInfo struct {
	Name   string
	Size   int64
	CRC32C uint32
	// Immutable files (sstables, blob files) never change under their name
	// in the store that wrote them: a copy stored for one snapshot serves
	// every later snapshot of the same store that lists the same name,
	// size and checksum (incremental checkpoints).
	Immutable bool
}

// ListPebbleSnapshot returns the files the manifest of the Pebble snapshot
// in dir lists, with their sizes and checksums as recorded when the
// snapshot was written. It checks that each file is present with its size
// but reads no file's contents.
func ListPebbleSnapshot(dir string) ([]SnapshotFileInfo, error) {
	man, err := readPebbleManifest(dir, false)
	if err != nil {
		return nil, err
	}
	out := make([]SnapshotFileInfo, len(man.Files))
	for i, f := range man.Files {
		out[i] = SnapshotFileInfo{Name: f.Name, Size: f.Size, CRC32C: f.CRC32C, Immutable: immutableFile(f.Name)}
	}
	return out, nil
}
