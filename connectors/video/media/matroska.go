// Package media converts Kinesis Video Streams fragments — self-contained
// Matroska documents, one Cluster each — into MP4: a whole clip (GetClip) or
// an fMP4 initialization segment and one media segment per fragment (HLS). It
// reads Matroska with github.com/at-wat/ebml-go and writes MP4 with
// github.com/Eyevinn/mp4ff, and knows nothing of HTTP or of the store.
package media

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/at-wat/ebml-go"
)

// Errors a conversion wraps; the archived-media API answers each with the
// service's exception of the same meaning.
var (
	// ErrNotMatroska: the fragment is not a Matroska document with a
	// Segment, Tracks and a Cluster.
	ErrNotMatroska = errors.New("media: not a Matroska fragment")
	// ErrUnsupportedMedia: the tracks' codec IDs are not H.264 video on
	// track 1 and, optionally, AAC audio on track 2.
	ErrUnsupportedMedia = errors.New("media: unsupported stream media type")
	// ErrMissingCodecPrivate: a track has no codec private data.
	ErrMissingCodecPrivate = errors.New("media: missing codec private data")
	// ErrInvalidCodecPrivate: a track's codec private data cannot be parsed,
	// or it changed between the fragments of one clip or session.
	ErrInvalidCodecPrivate = errors.New("media: invalid codec private data")
	// ErrInvalidFrame: a frame cannot be placed (timecodes going backwards,
	// a block of an unknown track).
	ErrInvalidFrame = errors.New("media: invalid media frame")
)

// Codec IDs of the tracks playback accepts (Matroska's; the service's
// documentation spells H.264's "V_MPEG/ISO/AVC", but producers, ffmpeg and
// the Matroska specification write "V_MPEG4/ISO/AVC").
const (
	CodecH264 = "V_MPEG4/ISO/AVC"
	CodecAAC  = "A_AAC"
)

// Track is one Matroska TrackEntry.
type Track struct {
	Number       uint64
	CodecID      string
	CodecPrivate []byte
	// Type is Matroska's TrackType: 1 video, 2 audio.
	Type uint64
	// DefaultDuration is the nominal frame duration (0 if not given).
	DefaultDuration   time.Duration
	Width, Height     uint64
	SamplingFrequency float64
	Channels          uint64
}

// Frame is one frame of a block (a laced block gives several).
type Frame struct {
	Track uint64
	// Time is the frame's presentation time on the fragment's Matroska
	// timeline (cluster timecode plus block offset, scaled).
	Time     time.Duration
	Keyframe bool
	Data     []byte
}

// Fragment is one decoded fragment.
type Fragment struct {
	TimecodeScale uint64
	Tracks        []Track
	// Timecode is the cluster's start on the Matroska timeline.
	Timecode time.Duration
	// Frames are in stored (decode) order.
	Frames []Frame
	// Tags are the fragment's simple tags (name → string value), such as
	// AWS_KINESISVIDEO_FRAGMENT_NUMBER.
	Tags map[string]string
}

// Track returns the track numbered n, or nil.
func (f *Fragment) Track(n uint64) *Track {
	for i := range f.Tracks {
		if f.Tracks[i].Number == n {
			return &f.Tracks[i]
		}
	}
	return nil
}

// The Matroska elements read; others are skipped.
type mkvDoc struct {
	Header  *mkvHeader  `ebml:"EBML"`
	Segment *mkvSegment `ebml:"Segment"`
}

type mkvHeader struct {
	DocType string `ebml:"EBMLDocType"`
}

type mkvSegment struct {
	Info    mkvInfo      `ebml:"Info"`
	Tracks  *mkvTracks   `ebml:"Tracks"`
	Cluster []mkvCluster `ebml:"Cluster"`
	Tags    []mkvTags    `ebml:"Tags"`
}

type mkvInfo struct {
	TimecodeScale uint64 `ebml:"TimecodeScale"`
}

type mkvTracks struct {
	TrackEntry []mkvTrack `ebml:"TrackEntry"`
}

type mkvTrack struct {
	TrackNumber     uint64    `ebml:"TrackNumber"`
	CodecID         string    `ebml:"CodecID"`
	CodecPrivate    []byte    `ebml:"CodecPrivate"`
	TrackType       uint64    `ebml:"TrackType"`
	DefaultDuration uint64    `ebml:"DefaultDuration"`
	Video           *mkvVideo `ebml:"Video"`
	Audio           *mkvAudio `ebml:"Audio"`
}

type mkvVideo struct {
	PixelWidth  uint64 `ebml:"PixelWidth"`
	PixelHeight uint64 `ebml:"PixelHeight"`
}

type mkvAudio struct {
	SamplingFrequency float64 `ebml:"SamplingFrequency"`
	Channels          uint64  `ebml:"Channels"`
}

type mkvCluster struct {
	Timecode    []uint64      `ebml:"Timecode"`
	SimpleBlock []ebml.Block  `ebml:"SimpleBlock"`
	BlockGroup  []mkvBlockGrp `ebml:"BlockGroup"`
}

type mkvBlockGrp struct {
	Block          ebml.Block `ebml:"Block"`
	ReferenceBlock []int64    `ebml:"ReferenceBlock"`
}

type mkvTags struct {
	Tag []mkvTag `ebml:"Tag"`
}

type mkvTag struct {
	SimpleTag []mkvSimpleTag `ebml:"SimpleTag"`
}

type mkvSimpleTag struct {
	TagName   string         `ebml:"TagName"`
	TagString string         `ebml:"TagString"`
	SimpleTag []mkvSimpleTag `ebml:"SimpleTag"`
}

// ReadFragment decodes one fragment: an EBML header, then a Segment with
// Info, Tracks and exactly one Cluster (and optionally Tags). Frames of all
// tracks come in stored order with their presentation times.
func ReadFragment(b []byte) (f *Fragment, err error) {
	if err := checkSizes(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotMatroska, err)
	}
	var doc mkvDoc
	func() {
		// ebml-go may panic on some malformed inputs; a fragment is bad
		// input, never a crash.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: %v", ErrNotMatroska, r)
			}
		}()
		if uerr := ebml.Unmarshal(bytes.NewReader(b), &doc); uerr != nil {
			err = fmt.Errorf("%w: %w", ErrNotMatroska, uerr)
		}
	}()
	if err != nil {
		return nil, err
	}
	switch {
	case doc.Header == nil:
		return nil, fmt.Errorf("%w: no EBML header", ErrNotMatroska)
	case doc.Header.DocType != "matroska" && doc.Header.DocType != "webm":
		return nil, fmt.Errorf("%w: doc type %q", ErrNotMatroska, doc.Header.DocType)
	case doc.Segment == nil:
		return nil, fmt.Errorf("%w: no Segment", ErrNotMatroska)
	case doc.Segment.Tracks == nil || len(doc.Segment.Tracks.TrackEntry) == 0:
		return nil, fmt.Errorf("%w: no Tracks", ErrNotMatroska)
	case len(doc.Segment.Cluster) != 1:
		return nil, fmt.Errorf("%w: %d Clusters, want 1", ErrNotMatroska, len(doc.Segment.Cluster))
	}
	seg := doc.Segment
	scale := seg.Info.TimecodeScale
	if scale == 0 {
		scale = 1000000 // Matroska's default
	}
	if scale > uint64(time.Second) {
		return nil, fmt.Errorf("%w: TimecodeScale %d", ErrNotMatroska, scale)
	}
	f = &Fragment{TimecodeScale: scale, Tags: map[string]string{}}
	for _, te := range seg.Tracks.TrackEntry {
		if te.TrackNumber == 0 {
			return nil, fmt.Errorf("%w: track number 0", ErrNotMatroska)
		}
		if f.Track(te.TrackNumber) != nil {
			return nil, fmt.Errorf("%w: track %d twice", ErrNotMatroska, te.TrackNumber)
		}
		t := Track{
			Number:          te.TrackNumber,
			CodecID:         te.CodecID,
			CodecPrivate:    te.CodecPrivate,
			Type:            te.TrackType,
			DefaultDuration: time.Duration(min(te.DefaultDuration, uint64(time.Hour))),
		}
		if te.Video != nil {
			t.Width, t.Height = te.Video.PixelWidth, te.Video.PixelHeight
		}
		if te.Audio != nil {
			t.SamplingFrequency, t.Channels = te.Audio.SamplingFrequency, te.Audio.Channels
		}
		f.Tracks = append(f.Tracks, t)
	}
	cl := seg.Cluster[0]
	if len(cl.Timecode) != 1 {
		return nil, fmt.Errorf("%w: Cluster without one Timecode", ErrNotMatroska)
	}
	const maxTC = uint64(1) << 62
	tc := cl.Timecode[0]
	if tc > maxTC/scale {
		return nil, fmt.Errorf("%w: Cluster Timecode %d out of range", ErrNotMatroska, tc)
	}
	f.Timecode = time.Duration(tc * scale)
	add := func(blk *ebml.Block, key bool) error {
		t := f.Track(blk.TrackNumber)
		if t == nil {
			return fmt.Errorf("%w: block of track %d, which Tracks does not have", ErrInvalidFrame, blk.TrackNumber)
		}
		at := f.Timecode + time.Duration(int64(blk.Timecode)*int64(scale))
		if at < 0 {
			return fmt.Errorf("%w: frame before time 0", ErrInvalidFrame)
		}
		step := t.DefaultDuration
		for i, d := range blk.Data {
			f.Frames = append(f.Frames, Frame{Track: t.Number, Time: at + time.Duration(i)*step, Keyframe: key && i == 0, Data: d})
		}
		return nil
	}
	// Stored order: SimpleBlocks and BlockGroups are kept apart by the
	// decoder, so a cluster mixing both is ordered by time per track.
	for i := range cl.SimpleBlock {
		if err := add(&cl.SimpleBlock[i], cl.SimpleBlock[i].Keyframe); err != nil {
			return nil, err
		}
	}
	for i := range cl.BlockGroup {
		if err := add(&cl.BlockGroup[i].Block, len(cl.BlockGroup[i].ReferenceBlock) == 0); err != nil {
			return nil, err
		}
	}
	if len(cl.SimpleBlock) > 0 && len(cl.BlockGroup) > 0 {
		sortStable(f.Frames)
	}
	for _, tags := range seg.Tags {
		for _, tag := range tags.Tag {
			collectTags(f.Tags, tag.SimpleTag)
		}
	}
	return f, nil
}

func collectTags(dst map[string]string, ts []mkvSimpleTag) {
	for _, st := range ts {
		if st.TagName != "" {
			dst[st.TagName] = st.TagString
		}
		collectTags(dst, st.SimpleTag)
	}
}

// sortStable orders frames by time, keeping stored order among equal times.
func sortStable(fs []Frame) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Time < fs[j-1].Time; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

type errDoc struct {
	Header  errHeader  `ebml:"EBML"`
	Segment errSegment `ebml:"Segment"`
}

type errHeader struct {
	EBMLVersion        uint64 `ebml:"EBMLVersion"`
	EBMLReadVersion    uint64 `ebml:"EBMLReadVersion"`
	EBMLMaxIDLength    uint64 `ebml:"EBMLMaxIDLength"`
	EBMLMaxSizeLength  uint64 `ebml:"EBMLMaxSizeLength"`
	DocType            string `ebml:"EBMLDocType"`
	DocTypeVersion     uint64 `ebml:"EBMLDocTypeVersion"`
	DocTypeReadVersion uint64 `ebml:"EBMLDocTypeReadVersion"`
}

type errSegment struct {
	Tags mkvTags `ebml:"Tags"`
}

// ErrorChunk writes the Matroska document the service sends in place of a
// fragment it cannot give (GetMediaForFragmentList): an EBML header and a
// Segment holding only Tags with AWS_KINESISVIDEO_FRAGMENT_NUMBER,
// AWS_KINESISVIDEO_ERROR_CODE and AWS_KINESISVIDEO_ERROR_ID.
func ErrorChunk(number, code, id string) ([]byte, error) {
	d := errDoc{
		Header: errHeader{EBMLVersion: 1, EBMLReadVersion: 1, EBMLMaxIDLength: 4, EBMLMaxSizeLength: 8,
			DocType: "matroska", DocTypeVersion: 4, DocTypeReadVersion: 2},
		Segment: errSegment{Tags: mkvTags{Tag: []mkvTag{{SimpleTag: []mkvSimpleTag{
			{TagName: "AWS_KINESISVIDEO_FRAGMENT_NUMBER", TagString: number},
			{TagName: "AWS_KINESISVIDEO_ERROR_CODE", TagString: code},
			{TagName: "AWS_KINESISVIDEO_ERROR_ID", TagString: id},
		}}}}},
	}
	var b bytes.Buffer
	if err := ebml.Marshal(&d, &b); err != nil {
		return nil, fmt.Errorf("media: writing an error chunk: %w", err)
	}
	return b.Bytes(), nil
}
