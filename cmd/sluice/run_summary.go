package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/planner"
)

// fileSet is the visible files under a sink's directory: path -> size.
type fileSet map[string]int64

// listFiles lists the committed files under dir: regular files whose
// names, and whose directories' names, do not start with '.' or '_' (the
// sinks keep in-progress and staged files hidden until they commit them).
// A directory that does not exist has none.
func listFiles(dir string) (fileSet, error) {
	fsSet := fileSet{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if p != dir && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fsSet[p] = info.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	return fsSet, nil
}

// sinkDir is the local directory a table writes its files to, if any:
// a filesystem table's path, a firehose table's 'dir' destination.
func sinkDir(t *catalog.Table) (string, bool) {
	switch t.Factory.Name() {
	case "filesystem":
		return strings.TrimPrefix(t.Options["path"], "file://"), true
	case "firehose":
		if t.Options["destination"] == "dir" {
			return t.Options["path"], true
		}
	}
	return "", false
}

// snapshotSinks lists the files under every table directory of the
// script, before its job runs, so that the summary counts what the job
// added.
func snapshotSinks(p *planner.Program) (map[string]fileSet, error) {
	before := map[string]fileSet{}
	for _, name := range p.Catalog.TableNames() {
		t, err := p.Catalog.Lookup(name, diag.Span{})
		if err != nil {
			return nil, err
		}
		if dir, ok := sinkDir(t); ok {
			if before[name], err = listFiles(dir); err != nil {
				return nil, err
			}
		}
	}
	return before, nil
}

// summaryLines says what a finished job wrote, per sink table: the rows
// its sink operator received (the engine's counters) and, for a table
// that writes files, the committed files the job added under its
// directory and their bytes, found on disk.
func summaryLines(p *planner.Program, m engine.Metrics, before map[string]fileSet, dataDir string) ([]string, error) {
	var lines []string
	for _, om := range m.Operators {
		if !om.IsSink {
			continue
		}
		t, err := p.Catalog.Lookup(om.Name, diag.Span{})
		if err != nil {
			continue // a sink that is not a table's
		}
		rows := plural(om.RecordsIn, "row")
		switch dir, isDir := sinkDir(t); {
		case isDir:
			after, err := listFiles(dir)
			if err != nil {
				return nil, err
			}
			var added []string
			var bytes int64
			for f, n := range after {
				if _, old := before[om.Name][f]; !old {
					added = append(added, f)
					bytes += n
				}
			}
			slices.Sort(added)
			lines = append(lines, fmt.Sprintf("%s: %s, %s, %s under %s", om.Name, rows, plural(int64(len(added)), "file"), sizeText(bytes), dir))
			if len(added) > 0 {
				rel, err := filepath.Rel(dir, added[0])
				if err != nil {
					rel = added[0]
				}
				lines[len(lines)-1] += fmt.Sprintf(" (first: %s)", rel)
			}
		case t.Factory.Name() == "shardlog":
			logDir := t.Options["log.path"]
			if logDir == "" {
				logDir = filepath.Join(dataDir, "log")
			}
			lines = append(lines, fmt.Sprintf("%s: %s to stream %q of the log in %s", om.Name, plural(om.RecordsIn, "record"), t.Options["stream"], logDir))
		case t.Factory.Name() == "firehose":
			lines = append(lines, fmt.Sprintf("%s: %s to s3://%s/", om.Name, rows, t.Options["bucket"]))
		default:
			lines = append(lines, fmt.Sprintf("%s: %s (%s)", om.Name, rows, t.Factory.Name()))
		}
	}
	return lines, nil
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// sizeText is a byte count for people: bytes, KiB or MiB.
func sizeText(n int64) string {
	switch {
	case n < 1<<10:
		return plural(n, "byte")
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

// needsDataDir reports whether a script has a shardlog table without its
// own 'log.path' or 'error.path': its log, or its error output, is in the
// data directory.
func needsDataDir(progs []*planner.Program) bool {
	for _, p := range progs {
		for _, name := range p.Catalog.TableNames() {
			t, err := p.Catalog.Lookup(name, diag.Span{})
			if err == nil && t.Factory.Name() == "shardlog" && (t.Options["log.path"] == "" || t.Options["error.path"] == "") {
				return true
			}
		}
	}
	return false
}
