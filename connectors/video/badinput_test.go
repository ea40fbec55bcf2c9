package video

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"

	"github.com/sluicehq/sluice/internal/clock"
)

// A Matroska stream built from parts: the document start, then elements.
type mkvBuilder struct {
	t *testing.T
	b []byte
}

func newMKV(t *testing.T) *mkvBuilder {
	return &mkvBuilder{t: t, b: append([]byte{}, docStart...)}
}

func (m *mkvBuilder) add(v any) *mkvBuilder {
	b, err := marshalElement(v)
	if err != nil {
		m.t.Fatal(err)
	}
	m.b = append(m.b, b...)
	return m
}

var (
	testInfo   = Info{TimecodeScale: 1000000, MuxingApp: "test"}
	videoTrack = TrackEntry{TrackNumber: 1, TrackUID: 1, CodecID: "V_MPEG4/ISO/AVC", TrackType: 1, DefaultDuration: 40000000, Video: &Video{PixelWidth: 64, PixelHeight: 48}}
	audioTrack = TrackEntry{TrackNumber: 2, TrackUID: 2, CodecID: "A_AAC", TrackType: 2, Audio: &Audio{SamplingFrequency: 48000, Channels: 2}}
)

func cluster(tc uint64, frames int, track uint64, size int) Cluster {
	c := Cluster{Timecode: []uint64{tc}}
	for i := 0; i < frames; i++ {
		c.SimpleBlock = append(c.SimpleBlock, ebml.Block{TrackNumber: track, Timecode: int16(i * 40), Keyframe: i == 0, Data: [][]byte{bytes.Repeat([]byte{byte(i)}, size)}})
	}
	return c
}

func TestBadInputErrorsThatFragmentOnly(t *testing.T) {
	good := func(m *mkvBuilder) *mkvBuilder {
		return m.add(&infoElem{testInfo}).add(&tracksElem{Tracks{TrackEntry: []TrackEntry{videoTrack}}}).
			add(&clusterElem{cluster(1000, 5, 1, 100)})
	}
	cases := []struct {
		name   string
		body   func() []byte
		opts   PutOptions
		stored int // fragments before the bad one
		id     int
	}{
		{"not matroska", func() []byte { return []byte("this is not a video at all, just some words\n") }, PutOptions{}, 0, ErrIDInvalidMKV},
		{"empty body", func() []byte { return nil }, PutOptions{}, 0, ErrIDInvalidMKV},
		{"webm header, garbage after", func() []byte { return append(append([]byte{}, docStart...), 0xff, 0xff, 0xff, 0xff, 0x00) }, PutOptions{}, 0, ErrIDInvalidMKV},
		{"cut in the middle of a cluster", func() []byte { b := good(newMKV(t)).b; return b[:len(b)-50] }, PutOptions{}, 0, ErrIDInvalidMKV},
		{"cluster without timecode", func() []byte {
			c := cluster(0, 3, 1, 10)
			c.Timecode = nil
			return good(newMKV(t)).add(&clusterElem{c}).b
		}, PutOptions{}, 1, ErrIDInvalidMKV},
		{"cluster before tracks", func() []byte { return newMKV(t).add(&infoElem{testInfo}).add(&clusterElem{cluster(0, 3, 1, 10)}).b }, PutOptions{}, 0, ErrIDInvalidMKV},
		{"timecodes going backwards", func() []byte {
			return good(newMKV(t)).add(&clusterElem{cluster(2000, 3, 1, 10)}).add(&clusterElem{cluster(1500, 3, 1, 10)}).b
		}, PutOptions{}, 2, ErrIDTimecodeNotMonotone},
		{"track change mid-stream", func() []byte {
			t2 := videoTrack
			t2.CodecID = "V_MPEGH/ISO/HEVC"
			return good(newMKV(t)).add(&tracksElem{Tracks{TrackEntry: []TrackEntry{t2}}}).add(&clusterElem{cluster(2000, 3, 1, 10)}).b
		}, PutOptions{}, 1, ErrIDTrackNumberMismatch},
		{"block of an unknown track", func() []byte { return good(newMKV(t)).add(&clusterElem{cluster(2000, 3, 7, 10)}).b }, PutOptions{}, 1, ErrIDTrackNumberMismatch},
		{"a track without frames", func() []byte {
			return newMKV(t).add(&infoElem{testInfo}).add(&tracksElem{Tracks{TrackEntry: []TrackEntry{videoTrack, audioTrack}}}).add(&clusterElem{cluster(0, 3, 1, 10)}).b
		}, PutOptions{}, 0, ErrIDFramesMissing},
		{"four tracks", func() []byte {
			var ts []TrackEntry
			for i := uint64(1); i <= 4; i++ {
				tr := videoTrack
				tr.TrackNumber, tr.TrackUID = i, i
				ts = append(ts, tr)
			}
			return newMKV(t).add(&infoElem{testInfo}).add(&tracksElem{Tracks{TrackEntry: ts}}).b
		}, PutOptions{}, 0, ErrIDTooManyTracks},
		{"oversize fragment", func() []byte { return good(newMKV(t)).add(&clusterElem{cluster(2000, 5, 1, 2000)}).b }, PutOptions{MaxFragmentBytes: 4000}, 1, ErrIDFragmentSize},
		{"overlong fragment", func() []byte {
			c := cluster(2000, 2, 1, 10)
			c.SimpleBlock[1].Timecode = 30000 // 30 s after the cluster's start
			return good(newMKV(t)).add(&clusterElem{c}).b
		}, PutOptions{MaxFragmentDuration: 20 * time.Second}, 1, ErrIDFragmentDuration},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewManual(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
			s := openStore(t, t.TempDir(), clk)
			ctx := context.Background()
			if _, err := s.CreateStream(ctx, CreateInput{Name: "cam", DataRetentionInHours: 1}); err != nil {
				t.Fatal(err)
			}
			acks, err := putAll(t, s, "cam", tc.body(), tc.opts)
			var ie *IngestError
			if !errors.As(err, &ie) || ie.ID != tc.id {
				t.Fatalf("PutMedia: %v, want error %d", err, tc.id)
			}
			var persisted []string
			for _, a := range acks {
				if a.EventType == AckPersisted {
					persisted = append(persisted, a.FragmentNumber)
				}
			}
			last := acks[len(acks)-1]
			if last.EventType != AckError || last.ErrorID != tc.id || last.ErrorCode != errorCodes[tc.id] {
				t.Fatalf("last ack %+v, want ERROR %d", last, tc.id)
			}
			// Nothing acknowledged that was not stored, nothing stored that
			// was not acknowledged.
			fs, err := s.Fragments(ctx, "cam", ServerTimestamp, clk.Now().Add(-time.Hour), clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != tc.stored || len(persisted) != tc.stored {
				t.Fatalf("%d stored, %d persisted, want %d", len(fs), len(persisted), tc.stored)
			}
			for i := range fs {
				if fs[i].Number != persisted[i] {
					t.Fatalf("stored %s, acknowledged %s", fs[i].Number, persisted[i])
				}
			}
			// The stream is intact: the next session goes on after it.
			next := newMKV(t).add(&infoElem{testInfo}).add(&tracksElem{Tracks{TrackEntry: []TrackEntry{videoTrack}}}).add(&clusterElem{cluster(100000, 3, 1, 10)}).b
			acks, err = putAll(t, s, "cam", next, PutOptions{})
			if err != nil {
				t.Fatalf("the next session: %v %+v", err, acks)
			}
			fs, _ = s.Fragments(ctx, "cam", ServerTimestamp, clk.Now().Add(-time.Hour), clk.Now())
			if len(fs) != tc.stored+1 {
				t.Fatalf("after the next session %d stored", len(fs))
			}
		})
	}
}
