// Package videosource is the engine's source of a video stream
// (connectors/video): each fragment a record — its number, timestamps,
// duration, the producer's tags and, on request, its frames — with event
// time from the producer timestamp, checkpointed by fragment number.
package videosource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/engine"
)

// Record is one fragment.
type Record struct {
	Stream            string
	FragmentNumber    string
	ProducerTimestamp time.Time
	ServerTimestamp   time.Time
	Duration          time.Duration
	Size              int64
	// Tags are the producer's tags of the fragment (TagName → TagString).
	Tags map[string]string
	// Frames, with Options.Frames, in the order stored.
	Frames []Frame
}

// Frame is one frame (a block's frame) of a fragment.
type Frame struct {
	Track uint64
	// Offset is the frame's time after the fragment's producer timestamp.
	Offset   time.Duration
	Keyframe bool
	Data     []byte
}

// Options configure the source.
type Options struct {
	// Store and Stream: the stream read. Required.
	Store  *video.Store
	Stream string
	// Start is where a fresh job starts (default EARLIEST); a restored one
	// goes on after the last fragment it emitted.
	Start video.StartSelector
	// Frames adds each fragment's frames to its record.
	Frames bool
	// Bounded ends the source at the stream's newest fragment when the job
	// starts; otherwise it reads live, waiting for new fragments.
	Bounded bool
}

// Source returns the source. A video stream is one sequence: subtask 0
// reads it, the others end at once.
func Source(opts Options) engine.Source[Record] { return &source{opts: opts} }

type source struct{ opts Options }

func (s *source) Open(ctx context.Context, info engine.SourceInfo) (engine.SourceReader[Record], error) {
	if s.opts.Store == nil || s.opts.Stream == "" {
		return nil, errors.New("videosource: Options.Store and Options.Stream are required")
	}
	r := &reader{opts: s.opts, info: info}
	if info.Subtask != 0 {
		return r, nil
	}
	sel := s.opts.Start
	if sel.Type == "" {
		sel.Type = "EARLIEST"
	}
	// After a restore (at any parallelism) the position of whichever old
	// subtask read the stream.
	for _, p := range info.Restored {
		if len(p.Data) > 0 {
			r.last = string(p.Data)
		}
	}
	if r.last != "" {
		sel = video.StartSelector{Type: "FRAGMENT_NUMBER", AfterFragmentNumber: r.last}
	}
	cur, err := s.opts.Store.NewCursor(ctx, s.opts.Stream, "", sel)
	if err != nil {
		return nil, fmt.Errorf("videosource: start reading %s: %w", s.opts.Stream, err)
	}
	r.cur = cur
	if s.opts.Bounded {
		newest, ok, err := s.opts.Store.Newest(ctx, s.opts.Stream)
		if err != nil {
			return nil, fmt.Errorf("videosource: %w", err)
		}
		if !ok {
			r.done = true
		} else {
			r.end, _ = video.ParseFragmentNumber(newest.Number)
		}
		if seq, ok := video.ParseFragmentNumber(r.last); ok && seq >= r.end {
			r.done = true
		}
	}
	return r, nil
}

type reader struct {
	opts Options
	info engine.SourceInfo
	cur  *video.Cursor
	last string // the number of the last fragment emitted
	end  uint64 // Bounded: the sequence of the last fragment to read
	done bool
}

// waitFor bounds one wait for a fragment, so that the task can checkpoint.
const waitFor = 100 * time.Millisecond

func (r *reader) Read(ctx context.Context, out *engine.SourceOutput[Record]) error {
	if r.cur == nil || r.done {
		return io.EOF
	}
	for emitted := 0; emitted == 0 || out.Room() > 0; emitted++ {
		wctx, cancel := context.WithTimeout(ctx, waitFor)
		if r.info.Interrupt != nil {
			go func() {
				select {
				case <-r.info.Interrupt:
					cancel()
				case <-wctx.Done():
				}
			}()
		}
		f, _, err := r.cur.Next(wctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return ctx.Err() // nothing now: come back later
			}
			return fmt.Errorf("videosource: read %s: %w", r.opts.Stream, err)
		}
		rec, err := r.record(f)
		if err != nil {
			return err
		}
		out.CollectAt(rec, rec.ProducerTimestamp.UnixMilli())
		r.last = f.Number
		if r.opts.Bounded {
			if seq, _ := video.ParseFragmentNumber(f.Number); seq >= r.end {
				r.done = true
				return io.EOF
			}
		}
		if emitted >= 64 {
			return nil
		}
	}
	return nil
}

func (r *reader) record(f video.StoredFragment) (Record, error) {
	rec := Record{
		Stream: r.opts.Stream, FragmentNumber: f.Number, ProducerTimestamp: f.ProducerTimestamp,
		ServerTimestamp: f.ServerTimestamp, Duration: f.Duration, Size: f.Size,
	}
	tags, err := f.DecodeTags()
	if err != nil {
		return Record{}, fmt.Errorf("videosource: fragment %s: %w", f.Number, err)
	}
	for _, ts := range tags {
		for _, t := range ts.Tag {
			for _, st := range t.SimpleTag {
				if rec.Tags == nil {
					rec.Tags = map[string]string{}
				}
				rec.Tags[st.TagName] = st.TagString
			}
		}
	}
	if r.opts.Frames {
		info, _, err := f.DecodeTracks()
		if err != nil {
			return Record{}, fmt.Errorf("videosource: fragment %s: %w", f.Number, err)
		}
		c, err := f.DecodeCluster()
		if err != nil {
			return Record{}, fmt.Errorf("videosource: fragment %s: %w", f.Number, err)
		}
		scale := info.TimecodeScale
		if scale == 0 {
			scale = 1000000
		}
		add := func(track uint64, tc int16, key bool, data [][]byte) {
			for _, d := range data {
				rec.Frames = append(rec.Frames, Frame{Track: track, Offset: time.Duration(int64(tc) * int64(scale)), Keyframe: key, Data: d})
			}
		}
		for _, b := range c.SimpleBlock {
			add(b.TrackNumber, b.Timecode, b.Keyframe, b.Data)
		}
		for _, g := range c.BlockGroup {
			add(g.Block.TrackNumber, g.Block.Timecode, len(g.ReferenceBlock) == 0, g.Block.Data)
		}
	}
	return rec, nil
}

// SnapshotPosition is the number of the last fragment emitted.
func (r *reader) SnapshotPosition() ([]byte, error) { return []byte(r.last), nil }

func (r *reader) Close() error { return nil }
