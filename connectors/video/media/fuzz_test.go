package media_test

import (
	"errors"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"

	"github.com/sluicehq/sluice/connectors/video/media"
)

// seedFragment writes a small fragment with ebml-go: one video track (a
// made-up avcC) and three blocks.
func seedFragment(tb testing.TB) []byte {
	type seg struct {
		Info    webm.Info    `ebml:"Info"`
		Tracks  webm.Tracks  `ebml:"Tracks"`
		Cluster webm.Cluster `ebml:"Cluster"`
	}
	doc := struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment seg             `ebml:"Segment"`
	}{
		Header: webm.EBMLHeader{EBMLVersion: 1, EBMLReadVersion: 1, EBMLMaxIDLength: 4, EBMLMaxSizeLength: 8, DocType: "matroska", DocTypeVersion: 4, DocTypeReadVersion: 2},
		Segment: seg{
			Info:   webm.Info{TimecodeScale: uint64(time.Millisecond)},
			Tracks: webm.Tracks{TrackEntry: []webm.TrackEntry{{TrackNumber: 1, TrackUID: 1, CodecID: media.CodecH264, TrackType: 1, CodecPrivate: []byte{1, 0x42, 0, 0x1e, 0xff, 0xe0, 0}}}},
			Cluster: webm.Cluster{Timecode: 1000, SimpleBlock: []ebml.Block{
				{TrackNumber: 1, Timecode: 0, Keyframe: true, Data: [][]byte{{0, 0, 0, 1, 0x65}}},
				{TrackNumber: 1, Timecode: 40, Data: [][]byte{{0, 0, 0, 1, 0x41}}},
				{TrackNumber: 1, Timecode: 80, Data: [][]byte{{0, 0, 0, 1, 0x41}}},
			}},
		},
	}
	var b writerBuf
	if err := ebml.Marshal(&doc, &b); err != nil {
		tb.Fatal(err)
	}
	return b
}

type writerBuf []byte

func (w *writerBuf) Write(p []byte) (int, error) { *w = append(*w, p...); return len(p), nil }

func TestSeedFragmentReads(t *testing.T) {
	f, err := media.ReadFragment(seedFragment(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Frames) != 3 || f.Frames[2].Time != 1080*time.Millisecond || !f.Frames[0].Keyframe || f.Frames[1].Keyframe {
		t.Fatalf("frames %+v", f.Frames)
	}
}

// FuzzReadFragment: any bytes either decode or fail with ErrNotMatroska or
// ErrInvalidFrame — never a panic — and a decoded fragment's frames belong
// to its tracks and are not before time 0.
func FuzzReadFragment(f *testing.F) {
	seed := seedFragment(f)
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte{0x1a, 0x45, 0xdf, 0xa3, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := media.ReadFragment(b)
		if err != nil {
			if !errors.Is(err, media.ErrNotMatroska) && !errors.Is(err, media.ErrInvalidFrame) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, x := range fr.Frames {
			if fr.Track(x.Track) == nil || x.Time < 0 {
				t.Fatalf("frame %+v of fragment with tracks %+v", x, fr.Tracks)
			}
		}
		if l, err := media.NewLayout(fr); err == nil {
			_, _ = l.Init()
			_, _ = l.Segment(fr, 1, 0, 0)
		}
	})
}
