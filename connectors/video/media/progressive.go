package media

import (
	"bytes"
	"fmt"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
)

// Clip writes fragments, in order, as one traditional (non-fragmented) MP4
// file, as GetClip returns it: ftyp, moov with each track's sample tables,
// then one mdat holding, fragment by fragment, a chunk per track. The first
// frame is at time 0. All fragments must share the first one's layout.
func Clip(frags []*Fragment) ([]byte, error) {
	if len(frags) == 0 {
		return nil, fmt.Errorf("%w: no fragments", ErrInvalidFrame)
	}
	l, err := NewLayout(frags[0])
	if err != nil {
		return nil, err
	}
	origin := Start(frags[0])
	type chunk struct {
		track int
		data  [][]byte
	}
	per := make([][]mp4.FullSample, len(l.tracks))
	chunkSizes := make([][]uint32, len(l.tracks)) // samples per chunk
	var chunks []chunk
	lastDTS := make([]uint64, len(l.tracks))
	for i, f := range frags {
		if err := l.Check(f); err != nil {
			return nil, fmt.Errorf("fragment %d of the clip: %w", i, err)
		}
		var next time.Duration
		if i+1 < len(frags) {
			next = Start(frags[i+1])
		}
		for ti := range l.tracks {
			ot := &l.tracks[ti]
			var frames []Frame
			for _, fr := range f.Frames {
				if fr.Track == ot.src.Number {
					frames = append(frames, fr)
				}
			}
			if len(frames) == 0 {
				continue
			}
			ss, err := ot.samples(frames, origin, next)
			if err != nil {
				return nil, fmt.Errorf("fragment %d of the clip: %w", i, err)
			}
			if n := len(per[ti]); n > 0 && ss[0].DecodeTime < lastDTS[ti] {
				return nil, fmt.Errorf("fragment %d of the clip: %w: track %d: timecodes going backwards", i, ErrInvalidFrame, ot.src.Number)
			}
			if n := len(per[ti]); n > 0 {
				// The previous fragment's last sample lasts until this one.
				prev := &per[ti][n-1]
				if d := ss[0].DecodeTime - prev.DecodeTime; d > 0 && d < 1<<31 {
					prev.Dur = uint32(d)
				}
			}
			lastDTS[ti] = ss[len(ss)-1].DecodeTime
			c := chunk{track: ti}
			for _, s := range ss {
				c.data = append(c.data, s.Data)
			}
			per[ti] = append(per[ti], ss...)
			chunkSizes[ti] = append(chunkSizes[ti], uint32(len(ss)))
			chunks = append(chunks, c)
		}
	}
	init := mp4.NewMP4Init()
	init.AddChild(mp4.NewFtyp("isom", 0x200, []string{"isom", "iso2", "avc1", "mp41"}))
	moov := mp4.NewMoovBox()
	init.AddChild(moov)
	moov.AddChild(mp4.CreateMvhd())
	var clipDur uint64
	for ti := range l.tracks {
		ot := &l.tracks[ti]
		trak, err := ot.trak(uint32(ti + 1))
		if err != nil {
			return nil, err
		}
		moov.AddChild(trak)
		stbl := trak.Mdia.Minf.Stbl
		var dur uint64
		var ctts bool
		stss := &mp4.StssBox{}
		for i, s := range per[ti] {
			dur += uint64(s.Dur)
			n := len(stbl.Stts.SampleCount)
			if n > 0 && stbl.Stts.SampleTimeDelta[n-1] == s.Dur {
				stbl.Stts.SampleCount[n-1]++
			} else {
				stbl.Stts.SampleCount = append(stbl.Stts.SampleCount, 1)
				stbl.Stts.SampleTimeDelta = append(stbl.Stts.SampleTimeDelta, s.Dur)
			}
			stbl.Stsz.SampleSize = append(stbl.Stsz.SampleSize, s.Size)
			if s.Flags == mp4.SyncSampleFlags {
				stss.SampleNumber = append(stss.SampleNumber, uint32(i+1))
			}
			ctts = ctts || s.CompositionTimeOffset != 0
		}
		stbl.Stsz.SampleNumber = uint32(len(per[ti]))
		for ci, n := range chunkSizes[ti] {
			if e := stbl.Stsc.Entries; len(e) == 0 || e[len(e)-1].SamplesPerChunk != n {
				if err := stbl.Stsc.AddEntry(uint32(ci+1), n, 1); err != nil {
					return nil, fmt.Errorf("media: stsc: %w", err)
				}
			}
		}
		stbl.Stco.ChunkOffset = make([]uint32, len(chunkSizes[ti]))
		if ot.asc == nil && len(stss.SampleNumber) < len(per[ti]) {
			stbl.AddChild(stss)
		}
		if ctts {
			c := &mp4.CttsBox{}
			counts, offs := make([]uint32, len(per[ti])), make([]int32, len(per[ti]))
			for i, s := range per[ti] {
				counts[i], offs[i] = 1, s.CompositionTimeOffset
				if s.CompositionTimeOffset < 0 {
					c.Version = 1
				}
			}
			if err := c.AddSampleCountsAndOffset(counts, offs); err != nil {
				return nil, fmt.Errorf("media: ctts: %w", err)
			}
			stbl.AddChild(c)
		}
		trak.Mdia.Mdhd.Duration = dur
		d := dur * videoTimescale / uint64(ot.timescale)
		trak.Tkhd.Duration = d
		clipDur = max(clipDur, d)
	}
	moov.Mvhd.Duration = clipDur
	moov.Mvhd.NextTrackID = uint32(len(l.tracks) + 1)
	// Chunk offsets: the mdat's payload follows ftyp and moov; the offsets'
	// values do not change the moov's size.
	pos := init.Size() + 8
	var mdatSize uint64
	next := make([]int, len(l.tracks))
	for _, c := range chunks {
		stco := moov.Traks[c.track].Mdia.Minf.Stbl.Stco
		if pos+mdatSize > 1<<32-1 {
			return nil, fmt.Errorf("%w: the clip passes 4 GB", ErrInvalidFrame)
		}
		stco.ChunkOffset[next[c.track]] = uint32(pos + mdatSize)
		next[c.track]++
		for _, d := range c.data {
			mdatSize += uint64(len(d))
		}
	}
	var b bytes.Buffer
	b.Grow(int(pos + mdatSize))
	if err := init.Encode(&b); err != nil {
		return nil, fmt.Errorf("media: encoding moov: %w", err)
	}
	hdr := []byte{byte((mdatSize + 8) >> 24), byte((mdatSize + 8) >> 16), byte((mdatSize + 8) >> 8), byte(mdatSize + 8), 'm', 'd', 'a', 't'}
	b.Write(hdr)
	for _, c := range chunks {
		for _, d := range c.data {
			b.Write(d)
		}
	}
	return b.Bytes(), nil
}
