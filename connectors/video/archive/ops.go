package archive

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/awsjson"
	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/media"
)

type timestampRange struct {
	StartTimestamp *epoch
	EndTimestamp   *epoch
}

type fragmentSelector struct {
	FragmentSelectorType *string
	TimestampRange       *timestampRange
}

// checkSelector applies a selector's rules at path; required says whether
// the range's two ends must be there.
func checkSelector(vs *awsjson.Violations, path string, s *fragmentSelector, endRequired bool) {
	vs.Check(path+".fragmentSelectorType", awsjson.Str(s.FragmentSelectorType), ruleSelector.Need())
	if s.TimestampRange == nil {
		vs.Check(path+".timestampRange", awsjson.Object(false), awsjson.Rule{Required: true})
		return
	}
	if s.TimestampRange.StartTimestamp == nil {
		vs.Check(path+".timestampRange.startTimestamp", awsjson.Object(false), awsjson.Rule{Required: true})
	}
	if endRequired && s.TimestampRange.EndTimestamp == nil {
		vs.Check(path+".timestampRange.endTimestamp", awsjson.Object(false), awsjson.Rule{Required: true})
	}
}

type listFragmentsInput struct {
	StreamName       *string
	StreamARN        *string
	MaxResults       *int64
	NextToken        *string
	FragmentSelector *fragmentSelector
}

type fragmentOut struct {
	FragmentNumber               string
	FragmentSizeInBytes          int64
	ProducerTimestamp            seconds
	ServerTimestamp              seconds
	FragmentLengthInMilliseconds int64
}

type listFragmentsOutput struct {
	Fragments []fragmentOut
	NextToken string `json:",omitempty"`
}

// defaultListResults is ListFragments' page size when MaxResults is not
// given.
const defaultListResults = 1000

// pageToken is where a ListFragments page ended.
type pageToken struct {
	Type       string
	Start, End time.Time
	After      string
}

func (t pageToken) encode() string {
	s := strings.Join([]string{"v1", t.Type, strconv.FormatInt(t.Start.UnixNano(), 10), strconv.FormatInt(t.End.UnixNano(), 10), t.After}, "|")
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func parsePageToken(s string) (pageToken, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	bad := errInvalid("NextToken is not valid: " + s)
	if err != nil {
		return pageToken{}, bad
	}
	p := strings.Split(string(b), "|")
	if len(p) != 5 || p[0] != "v1" || (p[1] != "PRODUCER_TIMESTAMP" && p[1] != "SERVER_TIMESTAMP") {
		return pageToken{}, bad
	}
	start, err1 := strconv.ParseInt(p[2], 10, 64)
	end, err2 := strconv.ParseInt(p[3], 10, 64)
	if err1 != nil || err2 != nil || !ruleFragNumber.Holds(awsjson.Str(&p[4])) {
		return pageToken{}, bad
	}
	return pageToken{Type: p[1], Start: time.Unix(0, start).UTC(), End: time.Unix(0, end).UTC(), After: p[4]}, nil
}

// numberLess orders fragment numbers (decimal strings, no leading zeros).
func numberLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func (h *Handler) listFragments(r *http.Request, w http.ResponseWriter, body []byte) error {
	ctx := r.Context()
	var in listFragmentsInput
	if err := decode(body, &in); err != nil {
		return err
	}
	var vs awsjson.Violations
	checkStream(&vs, in.StreamName, in.StreamARN)
	vs.Check("maxResults", awsjson.Num(in.MaxResults), awsjson.RangeRule(1, 1000))
	vs.Check("nextToken", awsjson.Str(in.NextToken), ruleNextToken)
	if in.FragmentSelector != nil {
		checkSelector(&vs, "fragmentSelector", in.FragmentSelector, true)
	}
	if err := violations(&vs); err != nil {
		return err
	}
	var tok pageToken
	switch {
	case in.NextToken != nil:
		t, err := parsePageToken(*in.NextToken)
		if err != nil {
			return err
		}
		tok = t
	case in.FragmentSelector == nil:
		return errInvalid("FragmentSelector is required when NextToken is not given.")
	default:
		tr := in.FragmentSelector.TimestampRange
		tok = pageToken{Type: *in.FragmentSelector.FragmentSelectorType, Start: tr.StartTimestamp.Time, End: tr.EndTimestamp.Time}
	}
	if tok.End.Before(tok.Start) {
		return errInvalid("StartTimestamp must be before or equal to EndTimestamp.")
	}
	info, err := h.stream(ctx, in.StreamName, in.StreamARN)
	if err != nil {
		return err
	}
	if err := h.limits.allow(h.clock.Now(), "ListFragments", info.Name); err != nil {
		return err
	}
	if err := h.checkRetention(info, tok.End); err != nil {
		return err
	}
	frags, err := h.archive.Fragments(ctx, info.Name, timestampType(tok.Type), tok.Start, tok.End)
	if err != nil {
		return archiveError(err)
	}
	limit := defaultListResults
	if in.MaxResults != nil {
		limit = int(*in.MaxResults)
	}
	out := listFragmentsOutput{Fragments: []fragmentOut{}}
	for _, f := range frags {
		if tok.After != "" && !numberLess(tok.After, f.Number) {
			continue
		}
		if len(out.Fragments) == limit {
			next := tok
			next.After = out.Fragments[len(out.Fragments)-1].FragmentNumber
			out.NextToken = next.encode()
			break
		}
		out.Fragments = append(out.Fragments, fragmentOut{
			FragmentNumber:               f.Number,
			FragmentSizeInBytes:          f.Size,
			ProducerTimestamp:            seconds(f.ProducerTimestamp),
			ServerTimestamp:              seconds(f.ServerTimestamp),
			FragmentLengthInMilliseconds: f.Duration.Milliseconds(),
		})
	}
	return writeJSON(w, out)
}

type getMediaForFragmentListInput struct {
	StreamName *string
	StreamARN  *string
	Fragments  []string
}

func (h *Handler) getMediaForFragmentList(r *http.Request, w http.ResponseWriter, body []byte) error {
	ctx := r.Context()
	var in getMediaForFragmentListInput
	if err := decode(body, &in); err != nil {
		return err
	}
	var vs awsjson.Violations
	checkStream(&vs, in.StreamName, in.StreamARN)
	if vs.Check("fragments", awsjson.List(in.Fragments), awsjson.Rule{Required: true, MinLen: 1, MaxLen: 1000}) {
		for i := range in.Fragments {
			vs.Check(fmt.Sprintf("fragments.%d.member", i+1), awsjson.Str(&in.Fragments[i]), ruleFragNumber)
		}
	}
	if err := violations(&vs); err != nil {
		return err
	}
	info, err := h.stream(ctx, in.StreamName, in.StreamARN)
	if err != nil {
		return err
	}
	if err := h.limits.allow(h.clock.Now(), "GetMediaForFragmentList", info.Name); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "video/webm")
	w.WriteHeader(http.StatusOK)
	for _, n := range in.Fragments {
		b, err := h.archive.Fragment(ctx, info.Name, n)
		if err != nil {
			// The status is sent: the service reports a fragment it cannot
			// give as a chunk of tags in its place.
			code, id := "FRAGMENT_NOT_FOUND", "3000"
			if !isNotFound(err) {
				code, id = "INTERNAL_ERROR", "5000"
			}
			if b, err = media.ErrorChunk(n, code, id); err != nil {
				return fmt.Errorf("archive: writing an error chunk: %w", err)
			}
		}
		if _, err := w.Write(b); err != nil {
			return nil // the client went away
		}
	}
	return nil
}

func isNotFound(err error) bool {
	return archiveError(err) != err
}

type getClipInput struct {
	StreamName           *string
	StreamARN            *string
	ClipFragmentSelector *fragmentSelector
}

// The clip's limits: the service returns the first 200 fragments or the
// first 100 MB from the start timestamp.
const (
	maxClipFragments = 200
	maxClipBytes     = 100 << 20
	maxRange         = 24 * time.Hour
)

func (h *Handler) getClip(r *http.Request, w http.ResponseWriter, body []byte) error {
	ctx := r.Context()
	var in getClipInput
	if err := decode(body, &in); err != nil {
		return err
	}
	var vs awsjson.Violations
	checkStream(&vs, in.StreamName, in.StreamARN)
	if vs.Check("clipFragmentSelector", awsjson.Object(in.ClipFragmentSelector != nil), awsjson.Rule{Required: true}) {
		checkSelector(&vs, "clipFragmentSelector", in.ClipFragmentSelector, true)
	}
	if err := violations(&vs); err != nil {
		return err
	}
	sel := in.ClipFragmentSelector
	start, end := sel.TimestampRange.StartTimestamp.Time, sel.TimestampRange.EndTimestamp.Time
	if err := h.checkRange(*sel.FragmentSelectorType, start, end); err != nil {
		return err
	}
	info, err := h.stream(ctx, in.StreamName, in.StreamARN)
	if err != nil {
		return err
	}
	if info.DataRetentionInHours == 0 {
		return &apiError{Code: "NoDataRetentionException", Message: msgNoRetention, Status: http.StatusBadRequest}
	}
	if err := h.limits.allow(h.clock.Now(), "GetClip", info.Name); err != nil {
		return err
	}
	if err := h.checkRetention(info, end); err != nil {
		return err
	}
	list, err := h.archive.Fragments(ctx, info.Name, timestampType(*sel.FragmentSelectorType), start, end)
	if err != nil {
		return archiveError(err)
	}
	list = dedupe(list, *sel.FragmentSelectorType)
	if len(list) == 0 {
		return errNotFound(msgNoFragmentsClip)
	}
	var frags []*media.Fragment
	var size int64
	for i, fi := range list {
		if i == maxClipFragments || (i > 0 && size+fi.Size > maxClipBytes) {
			break
		}
		b, err := h.archive.Fragment(ctx, info.Name, fi.Number)
		if err != nil {
			return archiveError(err)
		}
		size += int64(len(b))
		f, err := media.ReadFragment(b)
		if err != nil {
			return mediaError(err)
		}
		frags = append(frags, f)
	}
	clip, err := media.Clip(frags)
	if err != nil {
		return mediaError(err)
	}
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Content-Length", strconv.Itoa(len(clip)))
	_, _ = w.Write(clip)
	return nil
}

// checkRange applies the rules of a clip's or an ON_DEMAND session's range.
func (h *Handler) checkRange(selType string, start, end time.Time) error {
	if !end.After(start) {
		return errInvalid("EndTimestamp must be later than StartTimestamp.")
	}
	if end.Sub(start) > maxRange {
		return errInvalid("EndTimestamp must be within 24 hours of StartTimestamp.")
	}
	if selType == "SERVER_TIMESTAMP" && end.After(h.clock.Now()) {
		return errInvalid("EndTimestamp must be in the past when FragmentSelectorType is SERVER_TIMESTAMP.")
	}
	return nil
}

// dedupe keeps, of fragments with the same producer timestamp, the newest
// (the largest fragment number), when the selector is on producer time.
func dedupe(list []video.FragmentInfo, selType string) []video.FragmentInfo {
	if selType != "PRODUCER_TIMESTAMP" {
		return list
	}
	at := map[int64]int{}
	var out []video.FragmentInfo
	for _, f := range list {
		k := f.ProducerTimestamp.UnixNano()
		if i, ok := at[k]; ok {
			if numberLess(out[i].Number, f.Number) {
				out[i] = f
			}
			continue
		}
		at[k] = len(out)
		out = append(out, f)
	}
	return out
}
