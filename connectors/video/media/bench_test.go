//go:build unix

package media_test

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/video/media"
	"github.com/sluicehq/sluice/connectors/video/media/mediatest"
)

// BenchmarkClip is GetClip's conversion — 10 s of 320x240 H.264 + AAC,
// read from Matroska fragments and written as one MP4 — against a plain
// copy of the same fragments' bytes. Both report MB/s of what they write;
// run with -cpu 1 for a figure per core. cpu-MB/s divides by the process's
// CPU time (user + system) rather than the wall clock, so that a loaded
// machine does not halve the figure.
func BenchmarkClip(b *testing.B) {
	raw, err := mediatest.Split(mediatest.Encode(b, 10, true), time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), 1, 0)
	if err != nil {
		b.Fatal(err)
	}
	var in int
	for _, r := range raw {
		in += len(r.Data)
	}
	b.Run("mp4", func(b *testing.B) {
		var out int
		c0 := cpuTime(b)
		for b.Loop() {
			frags := make([]*media.Fragment, len(raw))
			for i, r := range raw {
				f, err := media.ReadFragment(r.Data)
				if err != nil {
					b.Fatal(err)
				}
				frags[i] = f
			}
			clip, err := media.Clip(frags)
			if err != nil {
				b.Fatal(err)
			}
			out = len(clip)
		}
		b.SetBytes(int64(out))
		b.ReportMetric(float64(out)*float64(b.N)/1e6/(cpuTime(b)-c0).Seconds(), "cpu-MB/s")
	})
	b.Run("copy", func(b *testing.B) {
		var buf bytes.Buffer
		c0 := cpuTime(b)
		for b.Loop() {
			buf.Reset()
			for _, r := range raw {
				buf.Write(r.Data)
			}
		}
		b.SetBytes(int64(in))
		b.ReportMetric(float64(in)*float64(b.N)/1e6/(cpuTime(b)-c0).Seconds(), "cpu-MB/s")
	})
}

// cpuTime is the process's CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
