package archive

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/awsjson"
	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/media"
)

type getHLSInput struct {
	StreamName                      *string
	StreamARN                       *string
	PlaybackMode                    *string
	HLSFragmentSelector             *fragmentSelector
	ContainerFormat                 *string
	DiscontinuityMode               *string
	DisplayFragmentTimestamp        *string
	Expires                         *int64
	MaxMediaPlaylistFragmentResults *int64
}

// session is what a session token carries, signed.
type session struct {
	Stream  string `json:"s"`
	Mode    string `json:"m"`
	Type    string `json:"t"`
	Start   int64  `json:"a"` // ns; LIVE: the window's anchor
	End     int64  `json:"b"` // ns; 0: open
	Created int64  `json:"c"`
	Expires int64  `json:"x"`
	Disc    string `json:"d"`
	Display string `json:"p"`
	Max     int    `json:"n"`
}

// liveLookback is how far back a LIVE session starts: the service needs a
// fragment within the last 30 seconds.
const liveLookback = 30 * time.Second

func (h *Handler) getHLSStreamingSessionURL(r *http.Request, w http.ResponseWriter, body []byte) error {
	ctx := r.Context()
	var in getHLSInput
	if err := decode(body, &in); err != nil {
		return err
	}
	var vs awsjson.Violations
	checkStream(&vs, in.StreamName, in.StreamARN)
	vs.Check("playbackMode", awsjson.Str(in.PlaybackMode), awsjson.EnumRule("LIVE", "LIVE_REPLAY", "ON_DEMAND"))
	if sel := in.HLSFragmentSelector; sel != nil {
		vs.Check("hLSFragmentSelector.fragmentSelectorType", awsjson.Str(sel.FragmentSelectorType), ruleSelector)
	}
	vs.Check("containerFormat", awsjson.Str(in.ContainerFormat), awsjson.EnumRule("FRAGMENTED_MP4", "MPEG_TS"))
	vs.Check("discontinuityMode", awsjson.Str(in.DiscontinuityMode), awsjson.EnumRule("ALWAYS", "NEVER", "ON_DISCONTINUITY"))
	vs.Check("displayFragmentTimestamp", awsjson.Str(in.DisplayFragmentTimestamp), awsjson.EnumRule("ALWAYS", "NEVER"))
	vs.Check("expires", awsjson.Num(in.Expires), awsjson.RangeRule(300, 43200))
	vs.Check("maxMediaPlaylistFragmentResults", awsjson.Num(in.MaxMediaPlaylistFragmentResults), awsjson.RangeRule(1, 5000))
	if err := violations(&vs); err != nil {
		return err
	}
	now := h.clock.Now()
	s := session{Mode: "LIVE", Type: "SERVER_TIMESTAMP", Created: now.UnixNano(), Display: "NEVER"}
	if in.PlaybackMode != nil {
		s.Mode = *in.PlaybackMode
	}
	if in.ContainerFormat != nil && *in.ContainerFormat == "MPEG_TS" {
		return errInvalid("ContainerFormat MPEG_TS is not supported by this server: use FRAGMENTED_MP4.")
	}
	var rng *timestampRange
	if sel := in.HLSFragmentSelector; sel != nil {
		if sel.FragmentSelectorType != nil {
			s.Type = *sel.FragmentSelectorType
		}
		rng = sel.TimestampRange
	}
	switch s.Mode {
	case "LIVE":
		if rng != nil {
			return errInvalid("TimestampRange must not be set when PlaybackMode is LIVE.")
		}
		s.Start = now.Add(-liveLookback).UnixNano()
	default:
		if rng == nil || rng.StartTimestamp == nil {
			return errInvalid("HLSFragmentSelector with a TimestampRange and its StartTimestamp is required when PlaybackMode is " + s.Mode + ".")
		}
		s.Start = rng.StartTimestamp.UnixNano()
		if rng.EndTimestamp != nil {
			if err := h.checkRange(s.Type, rng.StartTimestamp.Time, rng.EndTimestamp.Time); err != nil {
				return err
			}
			s.End = rng.EndTimestamp.UnixNano()
		} else if s.Mode == "ON_DEMAND" {
			return errInvalid("EndTimestamp is required when PlaybackMode is ON_DEMAND.")
		}
	}
	s.Disc = "NEVER"
	if s.Type == "SERVER_TIMESTAMP" {
		s.Disc = "ALWAYS"
	}
	if in.DiscontinuityMode != nil {
		s.Disc = *in.DiscontinuityMode
	}
	if in.DisplayFragmentTimestamp != nil {
		s.Display = *in.DisplayFragmentTimestamp
	}
	expires := int64(300)
	if in.Expires != nil {
		expires = *in.Expires
	}
	s.Expires = now.Add(time.Duration(expires) * time.Second).UnixNano()
	s.Max = 5
	if s.Mode == "ON_DEMAND" {
		s.Max = 1000
	}
	if in.MaxMediaPlaylistFragmentResults != nil {
		s.Max = int(*in.MaxMediaPlaylistFragmentResults)
	}
	info, err := h.stream(ctx, in.StreamName, in.StreamARN)
	if err != nil {
		return err
	}
	s.Stream = info.Name
	if info.DataRetentionInHours == 0 {
		return &apiError{Code: "NoDataRetentionException", Message: msgNoRetention, Status: http.StatusBadRequest}
	}
	if err := h.limits.allow(now, "GetHLSStreamingSessionURL", info.Name); err != nil {
		return err
	}
	if s.End != 0 {
		if err := h.checkRetention(info, time.Unix(0, s.End)); err != nil {
			return err
		}
	}
	all, err := h.sessionFragments(ctx, s, now)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return errNotFound(msgNoFragmentsSession)
	}
	if _, _, err := h.layout(ctx, s, all); err != nil {
		return err
	}
	tok, err := h.sign(s)
	if err != nil {
		return err
	}
	u := baseURL(r) + HLSPrefix + "getHLSMasterPlaylist.m3u8?SessionToken=" + url.QueryEscape(tok)
	return writeJSON(w, struct{ HLSStreamingSessionURL string }{u})
}

// baseURL is the scheme and host the request came to.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

func (h *Handler) sign(s session) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("archive: encoding a session: %w", err)
	}
	m := hmac.New(sha256.New, h.secret)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

func (h *Handler) session(tok string) (session, error) {
	body, mac, ok := strings.Cut(tok, ".")
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	sum, err2 := base64.RawURLEncoding.DecodeString(mac)
	if !ok || err1 != nil || err2 != nil {
		return session{}, errNotAuthorized(msgTokenInvalid)
	}
	m := hmac.New(sha256.New, h.secret)
	m.Write(b)
	if !hmac.Equal(sum, m.Sum(nil)) {
		return session{}, errNotAuthorized(msgTokenInvalid)
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return session{}, errNotAuthorized(msgTokenInvalid)
	}
	if !h.clock.Now().Before(time.Unix(0, s.Expires)) {
		return session{}, errNotAuthorized(msgTokenExpired)
	}
	return s, nil
}

// farFuture stands for an open end.
var farFuture = time.Unix(1<<40, 0)

// sessionFragments is every fragment of the session so far, in order: a
// fragment's index here is its media sequence number. ON_DEMAND: the range,
// up to Max. LIVE_REPLAY: from the start, each added once the ones before it
// have played (their durations elapsed since the session began). LIVE: what
// the server received since the session's anchor.
func (h *Handler) sessionFragments(ctx context.Context, s session, now time.Time) ([]video.FragmentInfo, error) {
	ts, start, end := timestampType(s.Type), time.Unix(0, s.Start), farFuture
	if s.End != 0 {
		end = time.Unix(0, s.End)
	}
	if s.Mode == "LIVE" {
		ts, end = video.ServerTimestamp, now
	}
	list, err := h.archive.Fragments(ctx, s.Stream, ts, start, end)
	if err != nil {
		return nil, archiveError(err)
	}
	list = dedupe(list, s.Type)
	switch s.Mode {
	case "ON_DEMAND":
		if len(list) > s.Max {
			list = list[:s.Max]
		}
	case "LIVE_REPLAY":
		played := now.Sub(time.Unix(0, s.Created))
		var elapsed time.Duration
		for i, f := range list {
			if elapsed > played {
				list = list[:i]
				break
			}
			elapsed += f.Duration
		}
	}
	return list, nil
}

// window is the part of the session's fragments a media playlist lists,
// and whether the session has ended (#EXT-X-ENDLIST).
func (h *Handler) window(ctx context.Context, s session, all []video.FragmentInfo, now time.Time) (first int, ended bool, err error) {
	switch s.Mode {
	case "ON_DEMAND":
		return 0, true, nil
	case "LIVE_REPLAY":
		if s.End != 0 {
			full, err := h.archive.Fragments(ctx, s.Stream, timestampType(s.Type), time.Unix(0, s.Start), time.Unix(0, s.End))
			if err != nil {
				return 0, false, archiveError(err)
			}
			ended = len(dedupe(full, s.Type)) == len(all)
		}
	}
	return max(0, len(all)-s.Max), ended, nil
}

// layout reads the session's first fragment: the tracks every other one
// must match.
func (h *Handler) layout(ctx context.Context, s session, all []video.FragmentInfo) (*media.Layout, *media.Fragment, error) {
	b, err := h.archive.Fragment(ctx, s.Stream, all[0].Number)
	if err != nil {
		return nil, nil, archiveError(err)
	}
	f, err := media.ReadFragment(b)
	if err != nil {
		return nil, nil, mediaError(err)
	}
	l, err := media.NewLayout(f)
	if err != nil {
		return nil, nil, mediaError(err)
	}
	return l, f, nil
}

func (h *Handler) serveHLS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, &apiError{Code: "UnknownOperationException", Status: http.StatusNotFound})
		return
	}
	var op string
	switch strings.TrimPrefix(r.URL.Path, HLSPrefix) {
	case "getHLSMasterPlaylist.m3u8":
		op = "GetHLSMasterPlaylist"
	case "getHLSMediaPlaylist.m3u8":
		op = "GetHLSMediaPlaylist"
	case "getMP4InitFragment.mp4":
		op = "GetMP4InitFragment"
	case "getMP4MediaFragment.mp4":
		op = "GetMP4MediaFragment"
	default:
		writeError(w, &apiError{Code: "UnknownOperationException", Status: http.StatusNotFound})
		return
	}
	q := r.URL.Query()
	tok := q.Get("SessionToken")
	if tok == "" {
		writeError(w, errInvalid("SessionToken is required."))
		return
	}
	s, err := h.session(tok)
	if err != nil {
		writeError(w, err)
		return
	}
	now := h.clock.Now()
	if err := h.limits.allow(now, op, tok); err != nil {
		writeError(w, err)
		return
	}
	if tn := q.Get("TrackNumber"); tn != "" && tn != "1" {
		writeError(w, errInvalid("TrackNumber "+tn+" is not valid: this server serves the tracks muxed, as track 1."))
		return
	}
	ctx := r.Context()
	all, err := h.sessionFragments(ctx, s, now)
	if err == nil && len(all) == 0 {
		err = errNotFound(msgNoFragmentsSession)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	qtok := url.QueryEscape(tok)
	var body []byte
	var ctype string
	switch op {
	case "GetHLSMasterPlaylist":
		body, err = h.masterPlaylist(ctx, s, all, qtok)
		ctype = "application/vnd.apple.mpegurl"
	case "GetHLSMediaPlaylist":
		body, err = h.mediaPlaylist(ctx, s, all, qtok, now)
		ctype = "application/vnd.apple.mpegurl"
	case "GetMP4InitFragment":
		var l *media.Layout
		if l, _, err = h.layout(ctx, s, all); err == nil {
			body, err = l.Init()
		}
		ctype = "video/mp4"
	case "GetMP4MediaFragment":
		body, err = h.mediaFragment(ctx, s, all, q.Get("FragmentNumber"))
		ctype = "video/mp4"
	}
	if err != nil {
		writeError(w, mediaError(err))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

func (h *Handler) masterPlaylist(ctx context.Context, s session, all []video.FragmentInfo, qtok string) ([]byte, error) {
	l, _, err := h.layout(ctx, s, all)
	if err != nil {
		return nil, err
	}
	bw := int64(0)
	for _, f := range all {
		if f.Duration > 0 {
			bw = max(bw, int64(float64(f.Size*8)/f.Duration.Seconds()))
		}
	}
	wd, ht := l.Resolution()
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS=\"%s\",RESOLUTION=%dx%d\n", max(bw, 1), l.Codecs(), wd, ht)
	fmt.Fprintf(&b, "getHLSMediaPlaylist.m3u8?TrackNumber=1&SessionToken=%s\n", qtok)
	return []byte(b.String()), nil
}

func (h *Handler) mediaPlaylist(ctx context.Context, s session, all []video.FragmentInfo, qtok string, now time.Time) ([]byte, error) {
	first, ended, err := h.window(ctx, s, all, now)
	if err != nil {
		return nil, err
	}
	win := all[first:]
	target := 1
	for _, f := range win {
		target = max(target, int(math.Ceil(f.Duration.Seconds())))
	}
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n")
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n", target, first)
	if s.Mode == "ON_DEMAND" {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:VOD\n")
	}
	b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	fmt.Fprintf(&b, "#EXT-X-MAP:URI=\"getMP4InitFragment.mp4?TrackNumber=1&SessionToken=%s\"\n", qtok)
	for i, f := range win {
		if i > 0 && discontinuity(s.Disc, win[i-1], f) {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if s.Display == "ALWAYS" {
			t := f.ServerTimestamp
			if s.Type == "PRODUCER_TIMESTAMP" {
				t = f.ProducerTimestamp
			}
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", t.UTC().Format("2006-01-02T15:04:05.000Z"))
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n", f.Duration.Seconds())
		fmt.Fprintf(&b, "getMP4MediaFragment.mp4?FragmentNumber=%s&TrackNumber=1&SessionToken=%s\n", f.Number, qtok)
	}
	if ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String()), nil
}

// discontinuityGap is the gap or overlap between fragments that
// ON_DISCONTINUITY marks.
const discontinuityGap = 50 * time.Millisecond

func discontinuity(mode string, prev, next video.FragmentInfo) bool {
	switch mode {
	case "ALWAYS":
		return true
	case "ON_DISCONTINUITY":
		d := next.ProducerTimestamp.Sub(prev.ProducerTimestamp.Add(prev.Duration))
		return d > discontinuityGap || d < -discontinuityGap
	}
	return false
}

func (h *Handler) mediaFragment(ctx context.Context, s session, all []video.FragmentInfo, number string) ([]byte, error) {
	if !ruleFragNumber.Holds(awsjson.Str(&number)) {
		return nil, errInvalid("FragmentNumber is required and must be a fragment number: " + strconv.Quote(number))
	}
	pos := -1
	for i, f := range all {
		if f.Number == number {
			pos = i
			break
		}
	}
	if pos < 0 {
		return nil, errNotFound("The requested fragment is not in the streaming session.")
	}
	l, _, err := h.layout(ctx, s, all)
	if err != nil {
		return nil, err
	}
	b, err := h.archive.Fragment(ctx, s.Stream, number)
	if err != nil {
		return nil, archiveError(err)
	}
	f, err := media.ReadFragment(b)
	if err != nil {
		return nil, err
	}
	var next time.Duration
	if d := all[pos].Duration; d > 0 {
		next = media.Start(f) + d
	}
	return l.Segment(f, uint32(pos+1), 0, next)
}
