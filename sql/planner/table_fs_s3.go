package planner

// The filesystem table on S3 (an s3:// or s3a:// 'path'): the sink's part
// files are multipart uploads completed at checkpoints
// (connectors/file/s3parts); the source lists the prefix and reads each
// object through a temporary local file, so that Parquet's footer can be
// read and a large object is not held in memory.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/connectors/file/s3parts"
	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/sql/catalog"
)

// partStore is where the sink's part files go: the local directory, or
// the bucket of an s3:// path. Every open part file holds one S3 part
// (5 MiB, S3's minimum) in memory.
func (ft *fsTable) partStore() (file.PartStore, error) {
	if ft.locErr != nil {
		return nil, ft.locErr
	}
	if ft.loc.S3 == nil {
		return file.NewDirParts(ft.path)
	}
	b, err := ft.openBucket()
	if err != nil {
		return nil, err
	}
	return s3parts.New(b, ft.loc.Prefix), nil
}

func (ft *fsTable) openBucket() (*s3.Bucket, error) {
	cfg := *ft.loc.S3
	cfg.PartSizeBytes = s3.MinPartSize
	// s3.Open reads the AWS configuration (environment, shared files) but
	// does not contact the server, so no job context is needed yet.
	return s3.Open(context.Background(), cfg)
}

// useS3 makes s read the bucket of loc.
func (s *fsSource) useS3(loc catalog.FilesystemPath) error {
	b, err := s.ft.openBucket()
	if err != nil {
		return err
	}
	s.bucket = b
	s.root = "s3://" + b.Name() + "/" + loc.Prefix
	s.prefix = loc.Prefix
	if s.prefix != "" {
		s.prefix += "/"
	}
	return nil
}

// resolveS3 decides whether the path is a directory (a prefix with
// objects under it) or one object, as a file system would: a path with
// neither is an error, as a missing local path is.
func (s *fsSource) resolveS3(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resolved {
		return nil
	}
	if err := s.resolveS3Locked(ctx); err != nil {
		return err // tried again by the next attempt
	}
	s.resolved = true
	return nil
}

func (s *fsSource) resolveS3Locked(ctx context.Context) error {
	name := s.ft.t.Name
	if s.prefix == "" {
		return nil // the whole bucket
	}
	keys, err := s.bucket.List(ctx, strings.TrimSuffix(s.prefix, "/"))
	if err != nil {
		return fmt.Errorf("table %s: option 'path': %w", name, err)
	}
	obj := strings.TrimSuffix(s.prefix, "/")
	under := false
	for _, k := range keys {
		if strings.HasPrefix(k, s.prefix) {
			under = true
			break
		}
	}
	switch {
	case under:
		return nil
	case slices.Contains(keys, obj):
		if len(s.ft.t.PartitionKeys) > 0 {
			return fmt.Errorf("table %s: option 'path' names a file, but a partitioned table reads a directory", name)
		}
		i := strings.LastIndex(obj, "/")
		s.prefix, s.file = obj[:i+1], obj[i+1:]
		return nil
	}
	return fmt.Errorf("table %s: option 'path': %s: no object and no objects under it", name, s.root)
}

// listS3 lists the objects under the prefix as paths relative to it,
// without hidden ones (an element starting with '.' or '_', as Flink
// skips; the sink's upload journal is one), sorted.
func (s *fsSource) listS3(ctx context.Context) ([]string, error) {
	keys, err := s.bucket.List(ctx, s.prefix)
	if err != nil {
		return nil, fmt.Errorf("table %s: list %s: %w", s.ft.t.Name, s.root, err)
	}
	var files []string
	for _, k := range keys {
		rel := strings.TrimPrefix(k, s.prefix)
		if rel == "" || strings.HasSuffix(rel, "/") || hiddenPath(rel) {
			continue // a directory marker, or hidden
		}
		files = append(files, rel)
	}
	slices.Sort(files)
	return files, nil
}

func hiddenPath(rel string) bool {
	for _, e := range strings.Split(rel, "/") {
		if strings.HasPrefix(e, ".") || strings.HasPrefix(e, "_") {
			return true
		}
	}
	return false
}

// download copies the object rel into an unlinked temporary file and
// returns it at its start.
func (s *fsSource) download(ctx context.Context, rel string) (*os.File, error) {
	f, err := os.CreateTemp("", "sluice-s3-object-*")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: the open file is all that is left, and closing it
	// frees the space.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := s.bucket.Download(ctx, s.prefix+rel, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("file %s: %w", rel, err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
