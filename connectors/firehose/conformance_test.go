package firehose_test

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/firehose"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
)

// TestConformance runs the suite every two-phase-commit sink runs, with a
// directory destination: gzipped JSON lines under a time-templated prefix,
// small buffers so that every checkpoint commits several objects.
func TestConformance(t *testing.T) {
	conformance.RunSink(t, conformance.Sink{
		Attach: func(t *testing.T, s *engine.Stream[conformance.Rec], dir string) {
			interval := 0
			sink, err := firehose.NewSink(firehose.Config{
				Name: "conformance", Prefix: "data/dt=!{timestamp:yyyy-MM-dd}/", ErrorOutputPrefix: "errors/!{firehose:error-output-type}/",
				Buffering:   firehose.BufferingHints{SizeInMBs: 1, IntervalInSeconds: &interval},
				Format:      firehose.Format{Type: firehose.FormatJSONLines},
				Compression: firehose.GZIP,
				Directory:   &firehose.DirectoryConfig{Path: dir},
			}, firehose.SinkOptions{}, func(r conformance.Rec) firehose.Record {
				b, _ := json.Marshal(r)
				return firehose.Record{Data: b}
			})
			if err != nil {
				t.Fatal(err)
			}
			engine.SinkTo(s, "firehose", sink)
		},
		Committed: func(t *testing.T, dir string) []conformance.Rec {
			var out []conformance.Rec
			err := filepath.WalkDir(filepath.Join(dir, "data"), func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					if os.IsNotExist(err) {
						return nil
					}
					return err
				}
				if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
					return nil // staged, never visible
				}
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				zr, err := gzip.NewReader(f)
				if err != nil {
					return err
				}
				sc := bufio.NewScanner(zr)
				for sc.Scan() {
					var r conformance.Rec
					if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
						return err
					}
					out = append(out, r)
				}
				return sc.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		},
	})
}
