package media

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/mp4"
)

// videoTimescale is the MP4 timescale of the video track (ticks a second).
const videoTimescale = 90000

// aacFrameSamples is the number of PCM samples an AAC-LC frame decodes to.
const aacFrameSamples = 1024

// Layout is the MP4 track layout of a clip or an HLS session, taken from
// its first fragment: track 1 H.264 video, optionally track 2 AAC audio. Every
// later fragment must have the same tracks and codec private data.
type Layout struct {
	tracks []outTrack
}

type outTrack struct {
	src       Track
	id        uint32
	timescale uint32
	avc       avc.DecConfRec
	asc       *aac.AudioSpecificConfig
}

// NewLayout checks a session's first fragment and returns its layout. The
// errors wrap ErrUnsupportedMedia, ErrMissingCodecPrivate or
// ErrInvalidCodecPrivate.
func NewLayout(f *Fragment) (*Layout, error) {
	l := &Layout{}
	tracks := slices.Clone(f.Tracks)
	slices.SortFunc(tracks, func(a, b Track) int { return int(a.Number) - int(b.Number) })
	if len(tracks) == 0 || len(tracks) > 2 || tracks[0].CodecID != CodecH264 ||
		(len(tracks) == 2 && tracks[1].CodecID != CodecAAC) {
		ids := make([]string, len(tracks))
		for i, t := range tracks {
			ids[i] = t.CodecID
		}
		return nil, fmt.Errorf("%w: codec IDs %q", ErrUnsupportedMedia, ids)
	}
	for i, t := range tracks {
		ot := outTrack{src: t, id: uint32(i + 1)}
		if len(t.CodecPrivate) == 0 {
			return nil, fmt.Errorf("%w: track %d (%s)", ErrMissingCodecPrivate, t.Number, t.CodecID)
		}
		switch t.CodecID {
		case CodecH264:
			rec, err := avc.DecodeAVCDecConfRec(t.CodecPrivate)
			if err != nil {
				return nil, fmt.Errorf("%w: track %d: %w", ErrInvalidCodecPrivate, t.Number, err)
			}
			if len(rec.SPSnalus) == 0 || len(rec.PPSnalus) == 0 {
				return nil, fmt.Errorf("%w: track %d: no SPS or PPS", ErrInvalidCodecPrivate, t.Number)
			}
			if _, err := avc.ParseSPSNALUnit(rec.SPSnalus[0], false); err != nil {
				return nil, fmt.Errorf("%w: track %d: %w", ErrInvalidCodecPrivate, t.Number, err)
			}
			ot.avc = rec
			ot.timescale = videoTimescale
		case CodecAAC:
			asc, err := aac.DecodeAudioSpecificConfig(bytes.NewReader(t.CodecPrivate))
			if err != nil {
				return nil, fmt.Errorf("%w: track %d: %w", ErrInvalidCodecPrivate, t.Number, err)
			}
			if asc.SamplingFrequency <= 0 {
				return nil, fmt.Errorf("%w: track %d: sampling frequency %d", ErrInvalidCodecPrivate, t.Number, asc.SamplingFrequency)
			}
			ot.asc = asc
			ot.timescale = uint32(asc.SamplingFrequency)
		}
		l.tracks = append(l.tracks, ot)
	}
	return l, nil
}

// Check reports whether f has the layout's tracks and codec private data
// (ErrInvalidCodecPrivate if not).
func (l *Layout) Check(f *Fragment) error {
	if len(f.Tracks) != len(l.tracks) {
		return fmt.Errorf("%w: the fragment has %d tracks, the session %d", ErrInvalidCodecPrivate, len(f.Tracks), len(l.tracks))
	}
	for _, ot := range l.tracks {
		t := f.Track(ot.src.Number)
		if t == nil || t.CodecID != ot.src.CodecID || !bytes.Equal(t.CodecPrivate, ot.src.CodecPrivate) {
			return fmt.Errorf("%w: track %d changed", ErrInvalidCodecPrivate, ot.src.Number)
		}
	}
	return nil
}

// HasAudio reports whether the layout has an audio track.
func (l *Layout) HasAudio() bool { return len(l.tracks) > 1 }

// Codecs is the RFC 6381 codecs string of the layout ("avc1.64001f,mp4a.40.2").
func (l *Layout) Codecs() string {
	s := ""
	for i, ot := range l.tracks {
		if i > 0 {
			s += ","
		}
		if ot.asc != nil {
			s += fmt.Sprintf("mp4a.40.%d", ot.asc.ObjectType)
		} else {
			s += fmt.Sprintf("avc1.%02x%02x%02x", ot.avc.AVCProfileIndication, ot.avc.ProfileCompatibility, ot.avc.AVCLevelIndication)
		}
	}
	return s
}

// Resolution is the video track's size in pixels.
func (l *Layout) Resolution() (w, h uint) {
	sps, err := avc.ParseSPSNALUnit(l.tracks[0].avc.SPSnalus[0], false)
	if err != nil {
		return 0, 0
	}
	return sps.Width, sps.Height
}

// Init writes the fMP4 initialization segment (ftyp, moov). A duration > 0
// is written into mvhd, tkhd, mdhd and mehd (a whole clip); 0 leaves them
// open (a live session).
func (l *Layout) Init(duration time.Duration) ([]byte, error) {
	init := mp4.CreateEmptyInit()
	for _, ot := range l.tracks {
		kind := "video"
		if ot.asc != nil {
			kind = "audio"
		}
		init.AddEmptyTrack(ot.timescale, kind, "und")
		trak := init.Moov.Traks[len(init.Moov.Traks)-1]
		if ot.asc != nil {
			var asc bytes.Buffer
			if err := ot.asc.Encode(&asc); err != nil {
				return nil, fmt.Errorf("media: encoding AudioSpecificConfig: %w", err)
			}
			esds := mp4.CreateEsdsBox(asc.Bytes())
			ch := uint16(ot.asc.ChannelConfiguration)
			if ch == 0 {
				ch = uint16(max(ot.src.Channels, 1))
			}
			trak.Mdia.Minf.Stbl.Stsd.AddChild(mp4.CreateAudioSampleEntryBox("mp4a", ch, 16, uint16(min(ot.asc.SamplingFrequency, 65535)), esds))
		} else if err := trak.SetAVCDescriptor("avc1", ot.avc.SPSnalus, ot.avc.PPSnalus, true); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidCodecPrivate, err)
		}
		if duration > 0 {
			trak.Tkhd.Duration = ticks(duration, videoTimescale)
			trak.Mdia.Mdhd.Duration = ticks(duration, ot.timescale)
		}
	}
	if duration > 0 {
		init.Moov.Mvhd.Duration = ticks(duration, videoTimescale)
		mehd := &mp4.MehdBox{Version: 1, FragmentDuration: int64(ticks(duration, videoTimescale))}
		mvex := init.Moov.Mvex
		mvex.Mehd = mehd
		mvex.Children = append([]mp4.Box{mehd}, mvex.Children...)
	}
	var b bytes.Buffer
	if err := init.Encode(&b); err != nil {
		return nil, fmt.Errorf("media: encoding init segment: %w", err)
	}
	return b.Bytes(), nil
}

// Segment writes one fragment as an fMP4 media segment (moof, mdat) with
// sequence number seq. Times are the Matroska timeline's less origin. next is
// where the fragment ends on that timeline (the next fragment's start), or 0
// when unknown: the last video frame then lasts the track's default
// duration, else as long as the frame before it.
func (l *Layout) Segment(f *Fragment, seq uint32, origin, next time.Duration) ([]byte, error) {
	if err := l.Check(f); err != nil {
		return nil, err
	}
	ids := make([]uint32, len(l.tracks))
	for i, ot := range l.tracks {
		ids[i] = ot.id
	}
	frag, err := mp4.CreateMultiTrackFragment(seq, ids)
	if err != nil {
		return nil, fmt.Errorf("media: creating fragment: %w", err)
	}
	size := 0
	for _, fr := range f.Frames {
		size += len(fr.Data)
	}
	frag.Mdat.Data = make([]byte, 0, size)
	for _, ot := range l.tracks {
		var frames []Frame
		for _, fr := range f.Frames {
			if fr.Track == ot.src.Number {
				frames = append(frames, fr)
			}
		}
		if len(frames) == 0 {
			continue
		}
		samples, err := ot.samples(frames, origin, next)
		if err != nil {
			return nil, err
		}
		for _, s := range samples {
			if err := frag.AddFullSampleToTrack(s, ot.id); err != nil {
				return nil, fmt.Errorf("media: adding a sample: %w", err)
			}
		}
	}
	var b bytes.Buffer
	b.Grow(size + 64*len(f.Frames) + 256)
	if err := frag.Encode(&b); err != nil {
		return nil, fmt.Errorf("media: encoding fragment: %w", err)
	}
	return b.Bytes(), nil
}

// samples turns one track's frames (in decode order) into MP4 samples.
func (ot *outTrack) samples(frames []Frame, origin, next time.Duration) ([]mp4.FullSample, error) {
	out := make([]mp4.FullSample, len(frames))
	for _, fr := range frames {
		if fr.Time < origin {
			return nil, fmt.Errorf("%w: track %d: frame at %v before the clip's start %v (timecodes going backwards)", ErrInvalidFrame, ot.src.Number, fr.Time, origin)
		}
	}
	if ot.asc != nil {
		// AAC: every frame is aacFrameSamples long; the first one's time
		// places the run.
		start := ticks(frames[0].Time-origin, ot.timescale)
		for i, fr := range frames {
			out[i] = mp4.FullSample{
				Sample:     mp4.Sample{Flags: mp4.SyncSampleFlags, Dur: aacFrameSamples, Size: uint32(len(fr.Data))},
				DecodeTime: start + uint64(i)*aacFrameSamples,
				Data:       fr.Data,
			}
		}
		return out, nil
	}
	// Video: Matroska gives presentation times; decode times are the same
	// times sorted (frames are stored in decode order), and the difference is
	// the composition offset.
	pts := make([]uint64, len(frames))
	for i, fr := range frames {
		pts[i] = ticks(fr.Time-origin, ot.timescale)
	}
	dts := slices.Clone(pts)
	slices.Sort(dts)
	for i, fr := range frames {
		var dur uint64
		switch {
		case i+1 < len(frames):
			dur = dts[i+1] - dts[i]
		case next > 0 && next > fr.Time && ticks(next-origin, ot.timescale) > dts[i]:
			dur = ticks(next-origin, ot.timescale) - dts[i]
		case ot.src.DefaultDuration > 0:
			dur = ticks(ot.src.DefaultDuration, ot.timescale)
		case i > 0:
			dur = dts[i] - dts[i-1]
		default:
			dur = uint64(ot.timescale / 30)
		}
		if dur > 1<<31 {
			return nil, fmt.Errorf("%w: track %d: a frame lasting %d ticks", ErrInvalidFrame, ot.src.Number, dur)
		}
		flags := mp4.NonSyncSampleFlags
		if fr.Keyframe {
			flags = mp4.SyncSampleFlags
		}
		cto := int64(pts[i]) - int64(dts[i])
		out[i] = mp4.FullSample{
			Sample:     mp4.Sample{Flags: flags, Dur: uint32(dur), Size: uint32(len(fr.Data)), CompositionTimeOffset: int32(cto)},
			DecodeTime: dts[i],
			Data:       fr.Data,
		}
	}
	return out, nil
}

// Start is where f begins on the Matroska timeline: its earliest frame.
func Start(f *Fragment) time.Duration {
	if len(f.Frames) == 0 {
		return f.Timecode
	}
	s := f.Frames[0].Time
	for _, fr := range f.Frames {
		s = min(s, fr.Time)
	}
	return s
}

// Clip writes fragments, in order, as one MP4 file: an initialization
// segment holding the clip's duration, then one moof/mdat per fragment, the
// first frame at time 0. All fragments must share the first one's layout.
func Clip(frags []*Fragment) ([]byte, error) {
	if len(frags) == 0 {
		return nil, fmt.Errorf("%w: no fragments", ErrInvalidFrame)
	}
	l, err := NewLayout(frags[0])
	if err != nil {
		return nil, err
	}
	origin := Start(frags[0])
	var segs [][]byte
	var end time.Duration
	for i, f := range frags {
		var next time.Duration
		if i+1 < len(frags) {
			next = Start(frags[i+1])
		}
		seg, err := l.Segment(f, uint32(i+1), origin, next)
		if err != nil {
			return nil, fmt.Errorf("fragment %d of the clip: %w", i, err)
		}
		segs = append(segs, seg)
		end = max(end, lastEnd(f, next))
	}
	init, err := l.Init(end - origin)
	if err != nil {
		return nil, err
	}
	n := len(init)
	for _, s := range segs {
		n += len(s)
	}
	out := make([]byte, 0, n)
	out = append(out, init...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return out, nil
}

// lastEnd estimates where a fragment's video ends on the Matroska timeline.
func lastEnd(f *Fragment, next time.Duration) time.Duration {
	if next > 0 {
		return next
	}
	var last, prev time.Duration
	var tr *Track
	n := 0
	for _, fr := range f.Frames {
		t := f.Track(fr.Track)
		if t == nil || t.CodecID != CodecH264 {
			continue
		}
		tr = t
		if fr.Time > last {
			prev, last = last, fr.Time
		} else if fr.Time > prev {
			prev = fr.Time
		}
		n++
	}
	switch {
	case tr == nil:
		return Start(f)
	case tr.DefaultDuration > 0:
		return last + tr.DefaultDuration
	case n > 1:
		return last + (last - prev)
	default:
		return last + time.Second/30
	}
}

// ticks converts a duration to ticks of timescale ts without overflowing on
// epoch-sized times.
func ticks(d time.Duration, ts uint32) uint64 {
	if d <= 0 {
		return 0
	}
	s, ns := uint64(d/time.Second), uint64(d%time.Second)
	return s*uint64(ts) + ns*uint64(ts)/uint64(time.Second)
}
