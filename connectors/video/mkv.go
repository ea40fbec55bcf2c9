package video

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// The Matroska side: the elements a fragment is made of, read from a
// producer's byte stream and written back as self-contained documents.
// Every element is read and written by github.com/at-wat/ebml-go (its
// reflection-driven Unmarshal and Marshal, and its Block for SimpleBlock and
// Block with their lacing); nothing of EBML's encoding is written here.

// Info is a Segment's Info: the timecode scale is what turns a cluster's
// timecode into time.
type Info struct {
	TimecodeScale uint64 `ebml:"TimecodeScale"`
	MuxingApp     string `ebml:"MuxingApp,omitempty"`
	WritingApp    string `ebml:"WritingApp,omitempty"`
}

// TrackEntry is one track of a Segment's Tracks.
type TrackEntry struct {
	Name            string `ebml:"Name,omitempty"`
	TrackNumber     uint64 `ebml:"TrackNumber"`
	TrackUID        uint64 `ebml:"TrackUID"`
	CodecID         string `ebml:"CodecID"`
	CodecPrivate    []byte `ebml:"CodecPrivate,omitempty"`
	CodecName       string `ebml:"CodecName,omitempty"`
	Language        string `ebml:"Language,omitempty"`
	TrackType       uint64 `ebml:"TrackType"`
	DefaultDuration uint64 `ebml:"DefaultDuration,omitempty"`
	Video           *Video `ebml:"Video,omitempty"`
	Audio           *Audio `ebml:"Audio,omitempty"`
}

// Video is a video track's settings.
type Video struct {
	PixelWidth    uint64 `ebml:"PixelWidth"`
	PixelHeight   uint64 `ebml:"PixelHeight"`
	DisplayWidth  uint64 `ebml:"DisplayWidth,omitempty"`
	DisplayHeight uint64 `ebml:"DisplayHeight,omitempty"`
}

// Audio is an audio track's settings.
type Audio struct {
	SamplingFrequency float64 `ebml:"SamplingFrequency"`
	Channels          uint64  `ebml:"Channels"`
	BitDepth          uint64  `ebml:"BitDepth,omitempty"`
}

// Tracks is a Segment's Tracks.
type Tracks struct {
	TrackEntry []TrackEntry `ebml:"TrackEntry"`
}

// BlockGroup is a Cluster's BlockGroup.
type BlockGroup struct {
	Block          ebml.Block `ebml:"Block"`
	BlockDuration  uint64     `ebml:"BlockDuration,omitempty"`
	ReferenceBlock []int64    `ebml:"ReferenceBlock,omitempty"`
}

// Cluster is one Cluster: a fragment's frames. Timecode is a list so that
// a cluster without one is told from a cluster at timecode 0.
type Cluster struct {
	Timecode    []uint64     `ebml:"Timecode"`
	SimpleBlock []ebml.Block `ebml:"SimpleBlock"`
	BlockGroup  []BlockGroup `ebml:"BlockGroup"`
}

// SimpleTag is one name and value of a Tag.
type SimpleTag struct {
	TagName   string `ebml:"TagName"`
	TagString string `ebml:"TagString,omitempty"`
	TagBinary []byte `ebml:"TagBinary,omitempty"`
}

// Tag is one Tag of Tags.
type Tag struct {
	SimpleTag []SimpleTag `ebml:"SimpleTag"`
}

// Tags is a Segment's Tags: producers tag fragments with them, and the
// service adds its AWS_KINESISVIDEO_* tags.
type Tags struct {
	Tag []Tag `ebml:"Tag"`
}

// The names of the tags the service adds to each fragment it returns.
const (
	TagFragmentNumber    = "AWS_KINESISVIDEO_FRAGMENT_NUMBER"
	TagServerTimestamp   = "AWS_KINESISVIDEO_SERVER_TIMESTAMP"
	TagProducerTimestamp = "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP"
	TagContinuationToken = "AWS_KINESISVIDEO_CONTINUATION_TOKEN"
	TagMillisBehindNow   = "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW"
	TagErrorCode         = "AWS_KINESISVIDEO_ERROR_CODE"
	TagErrorID           = "AWS_KINESISVIDEO_ERROR_ID"
)

// defaultTimecodeScale is Matroska's default: timecodes in milliseconds.
const defaultTimecodeScale = 1000000

// streamSegment is a Segment read as it arrives: each top-level element is
// sent on its channel as soon as it is complete (ebml-go sends a channel
// field's values one by one instead of collecting them).
type streamSegment struct {
	Info    chan Info    `ebml:"Info"`
	Tracks  chan Tracks  `ebml:"Tracks"`
	Tags    chan Tags    `ebml:"Tags"`
	Cluster chan Cluster `ebml:"Cluster"`
	// The EBML header of a next document, after an unknown-size Segment
	// (which never ends): the next Segment's children then arrive here too,
	// ebml-go handing top-level elements back up to this Segment.
	EBML chan webm.EBMLHeader `ebml:"EBML"`
}

type streamDoc struct {
	Header  chan webm.EBMLHeader `ebml:"EBML"`
	Segment streamSegment        `ebml:"Segment"`
}

// ElementKind says what a FragmentReader's Element holds.
type ElementKind int

const (
	// KindHeader is the EBML header (DocType checked: matroska or webm).
	KindHeader ElementKind = iota + 1
	// KindInfo is a Segment's Info.
	KindInfo
	// KindTracks is a Segment's Tracks.
	KindTracks
	// KindTags is a Tags element between clusters.
	KindTags
	// KindClusterStart is the timecode of a cluster whose frames are
	// arriving (BUFFERING).
	KindClusterStart
	// KindCluster is a complete Cluster.
	KindCluster
)

// Element is one thing a FragmentReader read.
type Element struct {
	Kind     ElementKind
	Header   webm.EBMLHeader
	Info     Info
	Tracks   Tracks
	Tags     Tags
	Cluster  Cluster
	Timecode uint64 // KindClusterStart
	// Size is, for KindCluster, the bytes read since the previous cluster
	// ended (the cluster with what came before it).
	Size int64
}

// ErrNotMatroska is wrapped by FragmentReader errors for input that is not
// a Matroska stream (the service's code 4006).
var ErrNotMatroska = errors.New("video: not a Matroska stream")

// ErrFragmentTooLarge is wrapped when a cluster exceeds the reader's size
// limit (the service's code 4001).
var ErrFragmentTooLarge = errors.New("video: fragment too large")

// FragmentReader reads a Matroska byte stream element by element, as it
// arrives. It is not safe for concurrent use.
type FragmentReader struct {
	events chan Element
	done   chan error
	doc    streamDoc
	cr     *countingReader
	err    error
	closed bool
	once   sync.Once
}

// countingReader counts the bytes read since the last reset and refuses to
// read past a limit; a stop makes every later read fail.
type countingReader struct {
	r       io.Reader
	n       atomic.Int64 // written by the parser, read by Next
	limit   int64
	stopped atomic.Bool
	gate    gate
	gateErr error
}

var errReaderStopped = errors.New("video: reader closed")

func (c *countingReader) Read(p []byte) (int, error) {
	if c.stopped.Load() {
		return 0, errReaderStopped
	}
	used := c.n.Load()
	if c.limit > 0 && used >= c.limit {
		return 0, ErrFragmentTooLarge
	}
	if c.limit > 0 && int64(len(p)) > c.limit-used {
		p = p[:c.limit-used]
	}
	if c.gateErr != nil {
		return 0, c.gateErr
	}
	n, err := c.r.Read(p)
	if gerr := c.gate.feed(p[:n]); gerr != nil {
		// ebml-go does not see these bytes: it never allocates the size
		// they claim.
		c.gateErr = gerr
		return 0, gerr
	}
	c.n.Add(int64(n))
	return n, err
}

// NewFragmentReader starts reading r. maxClusterBytes bounds the bytes of
// one cluster (with what precedes it since the previous one); 0: no bound.
func NewFragmentReader(r io.Reader, maxClusterBytes int64) *FragmentReader {
	fr := &FragmentReader{
		events: make(chan Element),
		done:   make(chan error, 1),
		cr:     &countingReader{r: r, limit: maxClusterBytes},
	}
	// No leaf may be larger than a cluster may be (64 MiB without a bound).
	fr.cr.gate.max = 64 << 20
	if maxClusterBytes > 0 {
		fr.cr.gate.max = uint64(maxClusterBytes)
	}
	fr.doc.Header = make(chan webm.EBMLHeader)
	fr.doc.Segment = streamSegment{
		Info:    make(chan Info),
		Tracks:  make(chan Tracks),
		Tags:    make(chan Tags),
		Cluster: make(chan Cluster),
		EBML:    make(chan webm.EBMLHeader),
	}
	go fr.parse()
	return fr
}

func (fr *FragmentReader) parse() {
	hook := func(e *ebml.Element) {
		switch e.Name {
		case "Timecode":
			if e.Parent != nil && e.Parent.Name == "Cluster" {
				tc, _ := e.Value.(uint64)
				fr.events <- Element{Kind: KindClusterStart, Timecode: tc}
			}
		case "Cluster":
			fr.cr.n.Store(0)
		}
	}
	err := ebml.Unmarshal(fr.cr, &fr.doc, ebml.WithElementReadHooks(hook))
	fr.done <- err
}

// Next returns the next element, io.EOF at the end of a well-formed stream,
// or an error wrapping ErrNotMatroska, ErrFragmentTooLarge or the reader's
// own error.
func (fr *FragmentReader) Next() (Element, error) {
	if fr.err != nil {
		return Element{}, fr.err
	}
	seg := &fr.doc.Segment
	select {
	case h := <-fr.doc.Header:
		return fr.header(h)
	case h := <-seg.EBML:
		return fr.header(h)
	case in := <-seg.Info:
		return Element{Kind: KindInfo, Info: in}, nil
	case t := <-seg.Tracks:
		return Element{Kind: KindTracks, Tracks: t}, nil
	case t := <-seg.Tags:
		return Element{Kind: KindTags, Tags: t}, nil
	case e := <-fr.events:
		return e, nil
	case c := <-seg.Cluster:
		// The hook resets the count after this send returns; what was
		// read so far is this cluster's size.
		return Element{Kind: KindCluster, Cluster: c, Size: fr.cr.n.Load()}, nil
	case err := <-fr.done:
		fr.done <- err // for Close
		switch {
		case err == nil:
			fr.err = io.EOF
		case errors.Is(err, ErrFragmentTooLarge):
			fr.err = ErrFragmentTooLarge
		case errors.Is(err, errReaderStopped):
			fr.err = errReaderStopped
		case errors.Is(err, ebml.ErrUnknownElement), errors.Is(err, ebml.ErrInvalidElementSize),
			errors.Is(err, ebml.ErrIncompatibleType), errors.Is(err, io.ErrUnexpectedEOF):
			fr.err = fmt.Errorf("%w: %w", ErrNotMatroska, err)
		default:
			var ee *ebml.Error
			if errors.As(err, &ee) {
				fr.err = fmt.Errorf("%w: %w", ErrNotMatroska, err)
			} else {
				fr.err = fmt.Errorf("video: read the Matroska stream: %w", err)
			}
		}
		return Element{}, fr.err
	}
}

func (fr *FragmentReader) header(h webm.EBMLHeader) (Element, error) {
	if h.DocType != "matroska" && h.DocType != "webm" {
		fr.err = fmt.Errorf("%w: EBML DocType %q", ErrNotMatroska, h.DocType)
		return Element{}, fr.err
	}
	return Element{Kind: KindHeader, Header: h}, nil
}

// Close stops reading: the parser's later reads fail and whatever it still
// sends is drained, so its goroutine ends.
func (fr *FragmentReader) Close() {
	fr.once.Do(func() {
		fr.cr.stopped.Store(true)
		go func() {
			seg := &fr.doc.Segment
			for {
				select {
				case <-fr.doc.Header:
				case <-seg.EBML:
				case <-seg.Info:
				case <-seg.Tracks:
				case <-seg.Tags:
				case <-seg.Cluster:
				case <-fr.events:
				case <-fr.done:
					return
				}
			}
		}()
	})
}

// ebmlHeader is the EBML header of the documents the store returns.
var ebmlHeader = webm.EBMLHeader{
	EBMLVersion:        1,
	EBMLReadVersion:    1,
	EBMLMaxIDLength:    4,
	EBMLMaxSizeLength:  8,
	DocType:            "matroska",
	DocTypeVersion:     4,
	DocTypeReadVersion: 2,
}

// The top-level elements, each alone, for Marshal.
type (
	infoElem struct {
		X Info `ebml:"Info"`
	}
	tracksElem struct {
		X Tracks `ebml:"Tracks"`
	}
	tagsElem struct {
		X Tags `ebml:"Tags"`
	}
	clusterElem struct {
		X Cluster `ebml:"Cluster"`
	}
)

// marshalElement writes one top-level element: v is an infoElem,
// tracksElem, tagsElem or clusterElem.
func marshalElement(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := ebml.Marshal(v, &buf); err != nil {
		return nil, fmt.Errorf("video: write a Matroska element: %w", err)
	}
	return buf.Bytes(), nil
}

// documentStart is the EBML header and the start of an unknown-size
// Segment: what every returned document begins with; its elements follow.
func documentStart() []byte {
	var buf bytes.Buffer
	err := ebml.Marshal(&struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment struct{}        `ebml:"Segment,size=unknown"`
	}{Header: ebmlHeader}, &buf)
	if err != nil {
		panic(fmt.Sprintf("video: the document start does not marshal: %v", err)) // constant input
	}
	return buf.Bytes()
}

var docStart = documentStart()

// serviceTags is a Tags element of name/value pairs.
func serviceTags(kv ...string) ([]byte, error) {
	t := Tag{}
	for i := 0; i+1 < len(kv); i += 2 {
		t.SimpleTag = append(t.SimpleTag, SimpleTag{TagName: kv[i], TagString: kv[i+1]})
	}
	return marshalElement(&tagsElem{Tags{Tag: []Tag{t}}})
}

// StreamWriter writes a Matroska stream as a producer does: the EBML
// header, an unknown-size Segment with Info and Tracks, then clusters as
// they come.
type StreamWriter struct{ w io.Writer }

// NewStreamWriter writes the stream's start to w.
func NewStreamWriter(w io.Writer, info Info, tracks Tracks) (*StreamWriter, error) {
	head := append([]byte{}, docStart...)
	for _, v := range []any{&infoElem{info}, &tracksElem{tracks}} {
		b, err := marshalElement(v)
		if err != nil {
			return nil, err
		}
		head = append(head, b...)
	}
	if _, err := w.Write(head); err != nil {
		return nil, fmt.Errorf("video: write the stream's start: %w", err)
	}
	return &StreamWriter{w: w}, nil
}

// WriteCluster writes one cluster (one fragment).
func (sw *StreamWriter) WriteCluster(c Cluster) error {
	b, err := marshalElement(&clusterElem{c})
	if err != nil {
		return err
	}
	if _, err := sw.w.Write(b); err != nil {
		return fmt.Errorf("video: write a cluster: %w", err)
	}
	return nil
}
