package planner

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	aparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
	"github.com/sluicehq/sluice/sql/row"
)

// TestFilesystemSourceConformance runs the suite every source runs over
// the filesystem source: failures at random points, resumes at another
// parallelism, a bounded run to its end; every row read exactly once.
// The input is partitioned JSON files of uneven sizes, and a hidden file
// and an _underscore file that must not be read.
func TestFilesystemSourceConformance(t *testing.T) {
	dir := t.TempDir()
	want := map[string]int{}
	id := 0
	for f := range 7 {
		p := filepath.Join(dir, fmt.Sprintf("dt=2024-01-0%d", f%3+1), fmt.Sprintf("part-%d", f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var b []byte
		for range 100 + 150*f {
			id++
			b = fmt.Appendf(b, "{\"id\": %d, \"v\": \"x%d\"}\n", id, id)
			want[strconv.Itoa(id)]++
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, hidden := range []string{".part-9.inprogress", "_SUCCESS"} {
		if err := os.WriteFile(filepath.Join(dir, "dt=2024-01-01", hidden), []byte("{\"id\": -1}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Plan(`CREATE TABLE src (id BIGINT, v STRING, dt DATE) PARTITIONED BY (dt)
  WITH ('connector' = 'filesystem', 'path' = '` + dir + `', 'format' = 'json');
CREATE TABLE snk (id BIGINT, v STRING, dt DATE) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT * FROM src;`)
	if err != nil {
		t.Fatal(err)
	}
	scan := p.inserts[0].root
	for scan.kind != relScan {
		scan = scan.inputs[0]
	}
	ip := &insertPlan{src: scan.src}
	conformance.RunSource(t, conformance.Source[*row.Row]{
		Build: func(t *testing.T, j *engine.Job) *engine.Stream[*row.Row] {
			s, err := ip.buildSource(j, RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Key: func(r *row.Row) string {
			if r.IsNull(2) {
				panic("a row without its partition value")
			}
			return strconv.FormatInt(r.Int(0), 10)
		},
		Want: want,
	})
}

// TestFilesystemSinkConformance runs the two-phase-commit sink suite over
// the filesystem table's sink: Parquet part files partitioned by the key,
// small files (rolling at 2 KiB), read back with pqarrow.
func TestFilesystemSinkConformance(t *testing.T) {
	conformance.RunSink(t, conformance.Sink{
		Attach: func(t *testing.T, s *engine.Stream[conformance.Rec], dir string) {
			p, err := Plan(`CREATE TABLE src (seq INT) WITH ('connector' = 'datagen');
CREATE TABLE snk (seq INT, val BIGINT, key STRING) PARTITIONED BY (key) WITH ('connector' = 'filesystem',
  'path' = '` + dir + `', 'format' = 'parquet', 'sink.rolling-policy.file-size' = '2kb');
INSERT INTO snk SELECT seq, CAST(seq AS BIGINT), 'k' FROM src;`)
			if err != nil {
				t.Fatal(err)
			}
			ip := p.inserts[0]
			l := ip.sinkL
			rows := engine.Map(s, "to-row", func(r conformance.Rec) *row.Row {
				out := l.New()
				out.SetInt(0, int64(r.Seq))
				out.SetInt(1, r.Val)
				out.SetStr(2, r.Key)
				return out
			})
			if err := ip.buildFilesystemSink(rows); err != nil {
				t.Fatal(err)
			}
		},
		Committed: func(t *testing.T, dir string) []conformance.Rec {
			var out []conformance.Rec
			err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
				if err != nil || de.IsDir() || strings.HasPrefix(de.Name(), ".") {
					return err
				}
				key, ok := strings.CutPrefix(filepath.Base(filepath.Dir(p)), "key=")
				if !ok || !strings.HasPrefix(de.Name(), "part-") {
					t.Fatalf("visible %s is not a part file of a partition", p)
				}
				body, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(body), aparquet.NewReaderProperties(memory.DefaultAllocator),
					pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				defer tbl.Release()
				tr := array.NewTableReader(tbl, 256)
				defer tr.Release()
				for tr.Next() {
					rec := tr.Record()
					seqs, vals := rec.Column(0).(*array.Int32), rec.Column(1).(*array.Int64)
					for i := 0; i < int(rec.NumRows()); i++ {
						out = append(out, conformance.Rec{Key: key, Seq: int(seqs.Value(i)), Val: vals.Value(i)})
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		},
	})
}
