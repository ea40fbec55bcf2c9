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

// trak builds the track's box tree and sample description.
func (ot *outTrack) trak(id uint32) (*mp4.TrakBox, error) {
	kind := "video"
	if ot.asc != nil {
		kind = "audio"
	}
	trak := mp4.CreateEmptyTrak(id, ot.timescale, kind, "und")
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
	return trak, nil
}

// Init writes the fMP4 initialization segment (ftyp, moov with mvex) of an
// HLS session.
func (l *Layout) Init() ([]byte, error) {
	init := mp4.CreateEmptyInit()
	for i := range l.tracks {
		trak, err := l.tracks[i].trak(uint32(i + 1))
		if err != nil {
			return nil, err
		}
		init.Moov.AddChild(trak)
		init.Moov.Mvex.AddChild(mp4.CreateTrex(uint32(i + 1)))
	}
	init.Moov.Mvhd.NextTrackID = uint32(len(l.tracks) + 1)
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

// ticks converts a duration to ticks of timescale ts without overflowing on
// epoch-sized times.
func ticks(d time.Duration, ts uint32) uint64 {
	if d <= 0 {
		return 0
	}
	s, ns := uint64(d/time.Second), uint64(d%time.Second)
	return s*uint64(ts) + ns*uint64(ts)/uint64(time.Second)
}
