package file_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
)

// jsonPart writes records as JSON lines, with a header line that only a
// finished file has a footer for, so a partial file would show.
type jsonPart[T any] struct {
	w   io.Writer
	enc *json.Encoder
}

func newJSONPart[T any](w io.Writer) (file.PartWriter[T], error) {
	return &jsonPart[T]{w: w, enc: json.NewEncoder(w)}, nil
}

func (p *jsonPart[T]) Write(v T) error { return p.enc.Encode(v) }
func (p *jsonPart[T]) Close() error {
	_, err := io.WriteString(p.w, "#end\n")
	return err
}

var rollingName = regexp.MustCompile(`^part-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9]+-[0-9]+$`)

// rollingOutput reads every visible part file under dir (recursively):
// each must be named as Flink names part files, be finished, and sit in
// the bucket its records belong to.
func rollingOutput[T any](t *testing.T, dir string, bucket func(T) string) ([]string, []T) {
	t.Helper()
	var files []string
	var out []T
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() || strings.HasPrefix(de.Name(), ".") || de.Name() == "_SUCCESS" {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if !rollingName.MatchString(de.Name()) {
			t.Fatalf("visible %s is not a part file", rel)
		}
		files = append(files, filepath.ToSlash(rel))
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		ended := false
		for sc.Scan() {
			if sc.Text() == "#end" {
				ended = true
				continue
			}
			if ended {
				t.Fatalf("%s: data after the footer", rel)
			}
			var v T
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			if b := bucket(v); filepath.ToSlash(filepath.Dir(rel)) != b {
				t.Fatalf("%s holds a record of bucket %q", rel, b)
			}
			out = append(out, v)
		}
		if !ended {
			t.Fatalf("%s is not finished", rel)
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, out
}

func recBucket(r conformance.Rec) string { return "key=" + r.Key }

// TestRollingConformance runs the two-phase-commit sink suite over a
// partitioned rolling sink with small files.
func TestRollingConformance(t *testing.T) {
	conformance.RunSink(t, conformance.Sink{
		Attach: func(t *testing.T, s *engine.Stream[conformance.Rec], dir string) {
			k, err := file.Rolling(dir, file.RollingOptions[conformance.Rec]{
				NewPart:  newJSONPart[conformance.Rec],
				Bucket:   func(r conformance.Rec) (string, error) { return recBucket(r), nil },
				FileSize: 512,
			})
			if err != nil {
				t.Fatal(err)
			}
			engine.SinkTo(s, "files", k)
		},
		Committed: func(t *testing.T, dir string) []conformance.Rec {
			_, recs := rollingOutput(t, dir, recBucket)
			return recs
		},
	})
}

type item struct {
	P string `json:"p"`
	N int    `json:"n"`
}

// TestRollingBySizeAndBucket: a bounded job without checkpoints commits
// at its end; files roll once they reach FileSize, per bucket.
func TestRollingBySizeAndBucket(t *testing.T) {
	dir := t.TempDir()
	var in []item
	for i := range 100 {
		in = append(in, item{P: fmt.Sprint("p", i%3), N: i})
	}
	j := engine.NewJob("roll", engine.Config{Parallelism: 1, StateBackend: "memory"})
	k, err := file.Rolling(dir, file.RollingOptions[item]{
		NewPart:  newJSONPart[item],
		Bucket:   func(v item) (string, error) { return "p=" + v.P, nil },
		FileSize: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	engine.SinkTo(engine.FromSlice(j, "in", in, engine.NoWatermarks[item]()), "files", k)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, out := rollingOutput(t, dir, func(v item) string { return "p=" + v.P })
	if len(out) != len(in) {
		t.Fatalf("%d records committed, want %d", len(out), len(in))
	}
	slices.SortFunc(out, func(a, b item) int { return a.N - b.N })
	if !slices.Equal(out, in) {
		t.Fatalf("committed records differ from the input")
	}
	// Each line is ~17 bytes: a file rolls after 6 of them, so each
	// bucket's ~33 records fill 6 files.
	perBucket := map[string]int{}
	for _, f := range files {
		perBucket[filepath.Dir(f)]++
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 100+20+5 {
			t.Fatalf("%s is %d bytes, rolled too late", f, st.Size())
		}
	}
	for b, n := range perBucket {
		if n < 5 {
			t.Fatalf("bucket %s has %d files, want rolling by size", b, n)
		}
	}
	if len(perBucket) != 3 {
		t.Fatalf("buckets %v, want p=p0, p=p1, p=p2", perBucket)
	}
}

// TestRollingByInterval: with a manual clock, a file open longer than
// the rollover interval rolls at the next check.
func TestRollingByInterval(t *testing.T) {
	dir := t.TempDir()
	clk := engine.NewManualClock(time.Unix(1000, 0))
	k, err := file.Rolling(dir, file.RollingOptions[item]{
		NewPart:          newJSONPart[item],
		RolloverInterval: 10 * time.Second,
		CheckInterval:    time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := k.Open(context.Background(), engine.SinkInfo{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	write := func(n int) {
		t.Helper()
		if err := w.Write([]engine.Record[item]{{Value: item{N: n}}}); err != nil {
			t.Fatal(err)
		}
	}
	write(1)
	clk.Advance(5 * time.Second)
	write(2) // same file: open 5 s
	clk.Advance(6 * time.Second)
	write(3) // written, then the check rolls the file (open 11 s)
	write(4) // a new file
	c, err := w.(engine.StagingWriter).Prepare(1)
	if err != nil {
		t.Fatal(err)
	}
	var parts []struct{ Tmp, Final string }
	if err := json.Unmarshal(c, &parts); err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("prepared %d files, want 2 (one rolled by interval, one at the checkpoint): %s", len(parts), c)
	}
	if !strings.HasSuffix(parts[0].Final, "-0-0") || !strings.HasSuffix(parts[1].Final, "-0-1") {
		t.Fatalf("part names %s, %s: want counters 0 and 1", parts[0].Final, parts[1].Final)
	}
	// Nothing is visible before the commit.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("%s visible before the commit", e.Name())
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRollingSuccessFile: each bucket a commit made files visible in gets
// an empty _SUCCESS, written after the files of every subtask.
func TestRollingSuccessFile(t *testing.T) {
	dir := t.TempDir()
	var in []item
	for i := range 60 {
		in = append(in, item{P: fmt.Sprint("p", i%3), N: i})
	}
	j := engine.NewJob("roll", engine.Config{Parallelism: 2, StateBackend: "memory"})
	k, err := file.Rolling(dir, file.RollingOptions[item]{
		NewPart:     newJSONPart[item],
		Bucket:      func(v item) (string, error) { return "p=" + v.P, nil },
		SuccessFile: "_SUCCESS",
	})
	if err != nil {
		t.Fatal(err)
	}
	engine.SinkTo(engine.FromSlice(j, "in", in, engine.NoWatermarks[item]()), "files", k)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, out := rollingOutput(t, dir, func(v item) string { return "p=" + v.P })
	if len(out) != len(in) {
		t.Fatalf("%d records committed, want %d", len(out), len(in))
	}
	for _, b := range []string{"p=p0", "p=p1", "p=p2"} {
		st, err := os.Stat(filepath.Join(dir, b, "_SUCCESS"))
		if err != nil || st.Size() != 0 {
			t.Fatalf("%s/_SUCCESS: %v", b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "_SUCCESS")); err == nil {
		t.Fatal("_SUCCESS in the root, which got no files")
	}
	if _, err := file.Rolling(dir, file.RollingOptions[item]{NewPart: newJSONPart[item], SuccessFile: "a/b"}); err == nil {
		t.Fatal("a success file name with a '/' was accepted")
	}
}
