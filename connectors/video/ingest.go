package video

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/at-wat/ebml-go"
)

// PutMedia's acknowledgements: every fragment is BUFFERING when its first
// frames arrive, RECEIVED when it is whole and valid, PERSISTED once
// durable; ERROR, with the service's error id, ends the session.
const (
	AckBuffering = "BUFFERING"
	AckReceived  = "RECEIVED"
	AckPersisted = "PERSISTED"
	AckError     = "ERROR"
)

// The service's PutMedia error ids (the PutMedia API reference) this store
// answers, and the names it gives them in ErrorCode.
const (
	ErrIDStreamRead          = 4000
	ErrIDFragmentSize        = 4001
	ErrIDFragmentDuration    = 4002
	ErrIDTimecodeNotMonotone = 4004
	ErrIDInvalidMKV          = 4006
	ErrIDProducerTimestamp   = 4007
	ErrIDStreamNotActive     = 4008
	ErrIDTrackNumberMismatch = 4010
	ErrIDFramesMissing       = 4011
	ErrIDTooManyTracks       = 4012
	ErrIDInternal            = 5000
	ErrIDArchival            = 5001
)

var errorCodes = map[int]string{
	ErrIDStreamRead:          "STREAM_READ_ERROR",
	ErrIDFragmentSize:        "FRAGMENT_SIZE_REACHED",
	ErrIDFragmentDuration:    "FRAGMENT_DURATION_REACHED",
	ErrIDTimecodeNotMonotone: "FRAGMENT_TIMECODE_NOT_MONOTONIC",
	ErrIDInvalidMKV:          "INVALID_MKV_DATA",
	ErrIDProducerTimestamp:   "INVALID_PRODUCER_TIMESTAMP",
	ErrIDStreamNotActive:     "STREAM_NOT_ACTIVE",
	ErrIDTrackNumberMismatch: "TRACK_NUMBER_MISMATCH",
	ErrIDFramesMissing:       "FRAMES_MISSING_FOR_TRACK",
	ErrIDTooManyTracks:       "MORE_THAN_ALLOWED_TRACKS_FOUND",
	ErrIDInternal:            "INTERNAL_ERROR",
	ErrIDArchival:            "FRAGMENT_ARCHIVAL_ERROR",
}

// Ack is one acknowledgement event of PutMedia, as the service writes it
// (one JSON object per line).
type Ack struct {
	EventType        string `json:"EventType"`
	FragmentTimecode int64  `json:"FragmentTimecode"`
	FragmentNumber   string `json:"FragmentNumber,omitempty"`
	ErrorID          int    `json:"ErrorId,omitempty"`
	ErrorCode        string `json:"ErrorCode,omitempty"`
}

// PutOptions are PutMedia's request headers and the service's limits.
type PutOptions struct {
	// Relative: cluster timecodes are relative to ProducerStart
	// (x-amzn-fragment-timecode-type RELATIVE); otherwise absolute.
	Relative      bool
	ProducerStart time.Time
	// MaxFragmentBytes bounds one fragment (default 50 MB, the service's).
	MaxFragmentBytes int64
	// MaxFragmentDuration bounds one fragment's duration (default 20 s).
	MaxFragmentDuration time.Duration
	// MaxTracks bounds a Segment's tracks (default 3, the service's).
	MaxTracks int
}

// IngestError is why PutMedia stopped: the service's error id.
type IngestError struct {
	ID  int
	Err error
}

func (e *IngestError) Error() string {
	return fmt.Sprintf("video: PutMedia error %d (%s): %v", e.ID, errorCodes[e.ID], e.Err)
}

func (e *IngestError) Unwrap() error { return e.Err }

func ingestErr(id int, format string, args ...any) *IngestError {
	return &IngestError{ID: id, Err: fmt.Errorf(format, args...)}
}

// PutMedia reads a Matroska stream from body into the named stream, one
// fragment per Cluster, calling ack with each acknowledgement as the service
// sends them. A fragment is acknowledged PERSISTED only once Append has made
// it durable; a fragment that is bad gets an ERROR acknowledgement with the
// service's error id, is not stored, and ends the session (PutMedia returns
// the *IngestError, after the fragments before it were stored). ack's own
// error ends the session and is returned.
func (s *Store) PutMedia(ctx context.Context, name string, body io.Reader, opts PutOptions, ack func(Ack) error) error {
	if opts.MaxFragmentBytes <= 0 {
		opts.MaxFragmentBytes = 50 << 20
	}
	if opts.MaxFragmentDuration <= 0 {
		opts.MaxFragmentDuration = 20 * time.Second
	}
	if opts.MaxTracks <= 0 {
		opts.MaxTracks = 3
	}
	if _, err := s.Stream(ctx, name, ""); err != nil {
		return err
	}
	fr := NewFragmentReader(body, opts.MaxFragmentBytes)
	defer fr.Close()
	in := &ingest{s: s, name: name, opts: opts, ack: ack}
	last, err := s.LastProducerTimestamp(name)
	if err != nil {
		return err
	}
	in.lastProducer = last
	err = in.run(ctx, fr)
	var ie *IngestError
	if errors.As(err, &ie) {
		if aerr := ack(Ack{EventType: AckError, FragmentTimecode: in.curTimecodeMs, ErrorID: ie.ID, ErrorCode: errorCodes[ie.ID]}); aerr != nil {
			return aerr
		}
	}
	return err
}

type ingest struct {
	s    *Store
	name string
	opts PutOptions
	ack  func(Ack) error

	haveHeader    bool
	info          *Info
	tracks        *Tracks
	tags          []Tags
	started       bool // BUFFERING sent for the cluster being read
	startedAt     time.Time
	curTimecodeMs int64
	lastProducer  time.Time // of the newest fragment stored in the stream
	prevProducer  time.Time // of the previous fragment of this session
	anyFragment   bool
}

func (in *ingest) scale() uint64 {
	if in.info != nil && in.info.TimecodeScale > 0 {
		return in.info.TimecodeScale
	}
	return defaultTimecodeScale
}

func (in *ingest) run(ctx context.Context, fr *FragmentReader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		el, err := fr.Next()
		switch {
		case err == io.EOF:
			if !in.haveHeader {
				return ingestErr(ErrIDInvalidMKV, "%w: no EBML header", ErrNotMatroska)
			}
			return nil
		case errors.Is(err, ErrFragmentTooLarge):
			return ingestErr(ErrIDFragmentSize, "a fragment is over %d bytes", in.opts.MaxFragmentBytes)
		case errors.Is(err, ErrNotMatroska):
			return &IngestError{ID: ErrIDInvalidMKV, Err: err}
		case err != nil:
			return &IngestError{ID: ErrIDStreamRead, Err: err}
		}
		switch el.Kind {
		case KindHeader:
			in.haveHeader = true
		case KindInfo:
			if !in.haveHeader {
				return ingestErr(ErrIDInvalidMKV, "%w: Info before the EBML header", ErrNotMatroska)
			}
			i := el.Info
			in.info = &i
		case KindTracks:
			if !in.haveHeader {
				return ingestErr(ErrIDInvalidMKV, "%w: Tracks before the EBML header", ErrNotMatroska)
			}
			if in.tracks != nil && !sameTracks(*in.tracks, el.Tracks) {
				return ingestErr(ErrIDTrackNumberMismatch, "the tracks changed in the middle of the stream")
			}
			if n := len(el.Tracks.TrackEntry); n == 0 || n > in.opts.MaxTracks {
				return ingestErr(ErrIDTooManyTracks, "%d tracks (1 to %d allowed)", n, in.opts.MaxTracks)
			}
			t := el.Tracks
			in.tracks = &t
		case KindTags:
			in.tags = append(in.tags, el.Tags)
		case KindClusterStart:
			if !in.started {
				in.started = true
				in.startedAt = in.s.clk.Now()
				in.curTimecodeMs = int64(el.Timecode * in.scale() / uint64(time.Millisecond))
				if err := in.ack(Ack{EventType: AckBuffering, FragmentTimecode: in.curTimecodeMs}); err != nil {
					return err
				}
			}
		case KindCluster:
			if err := in.cluster(ctx, el.Cluster); err != nil {
				return err
			}
		}
	}
}

func sameTracks(a, b Tracks) bool {
	var x, y bytes.Buffer
	if ebml.Marshal(&tracksElem{a}, &x) != nil || ebml.Marshal(&tracksElem{b}, &y) != nil {
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}

// cluster checks one whole cluster and stores it.
func (in *ingest) cluster(ctx context.Context, c Cluster) error {
	started := in.started
	in.started = false
	if in.tracks == nil || in.info == nil {
		return ingestErr(ErrIDInvalidMKV, "%w: a Cluster before the Segment's Info and Tracks", ErrNotMatroska)
	}
	if len(c.Timecode) != 1 {
		return ingestErr(ErrIDInvalidMKV, "%w: a Cluster without a Timecode", ErrNotMatroska)
	}
	scale := in.scale()
	tcNs := c.Timecode[0] * scale
	in.curTimecodeMs = int64(tcNs / uint64(time.Millisecond))
	if !started {
		in.startedAt = in.s.clk.Now()
		if err := in.ack(Ack{EventType: AckBuffering, FragmentTimecode: in.curTimecodeMs}); err != nil {
			return err
		}
	}
	var producer time.Time
	if in.opts.Relative {
		producer = in.opts.ProducerStart.Add(time.Duration(tcNs))
	} else {
		producer = time.Unix(0, int64(tcNs))
	}
	if in.anyFragment && producer.Before(in.prevProducer) {
		return ingestErr(ErrIDTimecodeNotMonotone, "the cluster's timecode %d is before the previous fragment's", c.Timecode[0])
	}
	// Per track: its default frame duration (ns); every block's track
	// must be one of the Segment's.
	defDur := map[uint64]uint64{}
	for _, t := range in.tracks.TrackEntry {
		defDur[t.TrackNumber] = t.DefaultDuration
	}
	seen := map[uint64]bool{}
	// The frames' span, in ns from the cluster's timecode (blocks come in
	// decoding order: with B-frames the first is not the earliest).
	var start, end int64
	first := true
	frame := func(track uint64, tc int16, dur uint64) error {
		d, ok := defDur[track]
		if !ok {
			return ingestErr(ErrIDTrackNumberMismatch, "a block of track %d, which the Segment's Tracks do not have", track)
		}
		seen[track] = true
		if dur > 0 {
			d = dur * scale
		}
		b := int64(tc) * int64(scale)
		if first || b < start {
			start = b
		}
		if e := b + int64(d); first || e > end {
			end = e
		}
		first = false
		return nil
	}
	for _, b := range c.SimpleBlock {
		if err := frame(b.TrackNumber, b.Timecode, 0); err != nil {
			return err
		}
	}
	for _, g := range c.BlockGroup {
		if err := frame(g.Block.TrackNumber, g.Block.Timecode, g.BlockDuration); err != nil {
			return err
		}
	}
	for _, t := range in.tracks.TrackEntry {
		if !seen[t.TrackNumber] {
			return ingestErr(ErrIDFramesMissing, "the fragment has no frames of track %d", t.TrackNumber)
		}
	}
	dur := time.Duration(end - start)
	if dur > in.opts.MaxFragmentDuration {
		return ingestErr(ErrIDFragmentDuration, "a fragment of %v (at most %v)", dur, in.opts.MaxFragmentDuration)
	}
	if err := in.ack(Ack{EventType: AckReceived, FragmentTimecode: in.curTimecodeMs}); err != nil {
		return err
	}
	app, err := in.s.Append(ctx, in.name, NewFragment{
		Producer: producer, Server: in.startedAt, Duration: dur,
		Info: *in.info, Tracks: *in.tracks, Tags: in.tags, Cluster: c,
	})
	in.tags = nil
	if err != nil {
		if errors.Is(err, ErrStreamNotFound) {
			return &IngestError{ID: ErrIDStreamNotActive, Err: err}
		}
		return &IngestError{ID: ErrIDArchival, Err: err}
	}
	in.anyFragment = true
	in.prevProducer = producer
	if app.Persisted {
		return in.ack(Ack{EventType: AckPersisted, FragmentTimecode: in.curTimecodeMs, FragmentNumber: app.Number})
	}
	return nil
}

// decodeCluster reads a stored Cluster element.
func decodeCluster(b []byte) (Cluster, error) {
	var v struct {
		Cluster []Cluster `ebml:"Cluster"`
	}
	if err := ebml.Unmarshal(bytes.NewReader(b), &v); err != nil {
		return Cluster{}, fmt.Errorf("video: decode a stored cluster: %w", err)
	}
	if len(v.Cluster) != 1 {
		return Cluster{}, errNoElement
	}
	return v.Cluster[0], nil
}

func decodeHead(b []byte) (Info, Tracks, error) {
	var v struct {
		Info   []Info   `ebml:"Info"`
		Tracks []Tracks `ebml:"Tracks"`
	}
	if err := ebml.Unmarshal(bytes.NewReader(b), &v); err != nil {
		return Info{}, Tracks{}, fmt.Errorf("video: decode stored tracks: %w", err)
	}
	if len(v.Info) != 1 || len(v.Tracks) != 1 {
		return Info{}, Tracks{}, errNoElement
	}
	return v.Info[0], v.Tracks[0], nil
}

func decodeTags(b []byte) ([]Tags, error) {
	var v struct {
		Tags []Tags `ebml:"Tags"`
	}
	if err := ebml.Unmarshal(bytes.NewReader(b), &v); err != nil {
		return nil, fmt.Errorf("video: decode stored tags: %w", err)
	}
	return v.Tags, nil
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("video: remove %s: %w", path, err)
	}
	return nil
}
