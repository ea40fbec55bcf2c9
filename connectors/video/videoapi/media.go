package videoapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/awsjson"
	"github.com/sluicehq/sluice/connectors/video"
)

// putMedia answers POST /putMedia: headers name the stream and the
// timecodes' kind; the body is read as it arrives and every fragment
// acknowledged on the response as it goes (one JSON object per line).
func (s *Server) putMedia(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, &apiError{"UnknownOperationException", ""})
		return
	}
	var principal any
	if s.opts.AuthenticateStreaming != nil {
		p, err := s.opts.AuthenticateStreaming(r)
		if err != nil {
			writeError(w, s.asAPIError(err))
			return
		}
		principal = p
	}
	name, arn := r.Header.Get("x-amzn-stream-name"), r.Header.Get("x-amzn-stream-arn")
	var namep, arnp *string
	if name != "" {
		namep = &name
	}
	if arn != "" {
		arnp = &arn
	}
	tcType := r.Header.Get("x-amzn-fragment-timecode-type")
	var vs awsjson.Violations
	vs.Check("streamName", awsjson.Str(namep), ruleStreamName)
	vs.Check("streamARN", awsjson.Str(arnp), ruleARN)
	var tcp *string
	if tcType != "" {
		tcp = &tcType
	}
	vs.Check("fragmentTimecodeType", awsjson.Str(tcp), awsjson.EnumRule("ABSOLUTE", "RELATIVE").Need())
	if e := check(&vs); e != nil {
		writeError(w, e)
		return
	}
	if e := nameOrARN(namep, arnp); e != nil {
		writeError(w, e.(*apiError))
		return
	}
	opts := video.PutOptions{
		Relative:            tcType == "RELATIVE",
		MaxFragmentBytes:    s.opts.MaxFragmentBytes,
		MaxFragmentDuration: s.opts.MaxFragmentDuration,
	}
	if v := r.Header.Get("x-amzn-producer-start-timestamp"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			writeError(w, invalid("The producer start timestamp is not valid: "+v))
			return
		}
		opts.ProducerStart = time.UnixMilli(int64(f * 1000))
	} else if opts.Relative {
		opts.ProducerStart = time.Now()
	}
	info, err := s.store.Stream(r.Context(), name, arn)
	if err != nil {
		writeError(w, s.asAPIError(err))
		return
	}
	if e := s.authorize(principal, "PutMedia", info.ARN); e != nil {
		writeError(w, e)
		return
	}
	rc := http.NewResponseController(w)
	// Acknowledgements go out while the body still comes in.
	_ = rc.EnableFullDuplex()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	enc := json.NewEncoder(w) // one object per line
	err = s.store.PutMedia(r.Context(), info.Name, r.Body, opts, func(a video.Ack) error {
		if err := enc.Encode(a); err != nil {
			return err
		}
		return rc.Flush()
	})
	var ie *video.IngestError
	if err != nil && !errors.As(err, &ie) && s.opts.ErrorLog != nil && r.Context().Err() == nil {
		s.opts.ErrorLog("videoapi: PutMedia %s: %v", info.Name, err)
	}
}

// getMedia answers POST /getMedia: the stream's fragments from the start
// selector on, each a Matroska document with the service's tags, live.
func (s *Server) getMedia(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, &apiError{"UnknownOperationException", ""})
		return
	}
	var in struct {
		target
		StartSelector *struct {
			StartSelectorType   *string       `json:"StartSelectorType"`
			AfterFragmentNumber *string       `json:"AfterFragmentNumber"`
			StartTimestamp      *epochSeconds `json:"StartTimestamp"`
			ContinuationToken   *string       `json:"ContinuationToken"`
		} `json:"StartSelector"`
	}
	p, e := s.readBody(r, &in)
	if e != nil {
		writeError(w, e)
		return
	}
	var vs awsjson.Violations
	in.target.check(&vs)
	if vs.Check("startSelector", awsjson.Object(in.StartSelector != nil), awsjson.Rule{Required: true}) {
		ss := in.StartSelector
		vs.Check("startSelector.startSelectorType", awsjson.Str(ss.StartSelectorType),
			awsjson.EnumRule("FRAGMENT_NUMBER", "SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP", "NOW", "EARLIEST", "CONTINUATION_TOKEN").Need())
		vs.Check("startSelector.afterFragmentNumber", awsjson.Str(ss.AfterFragmentNumber), awsjson.PatternRule(fragNumPat, 1, 128))
		vs.Check("startSelector.continuationToken", awsjson.Str(ss.ContinuationToken), awsjson.PatternRule(contTokenPat, 1, 128))
	}
	if e := check(&vs); e != nil {
		writeError(w, e)
		return
	}
	if e := nameOrARNErr(&in.target); e != nil {
		writeError(w, e)
		return
	}
	ss := in.StartSelector
	sel := video.StartSelector{Type: *ss.StartSelectorType, AfterFragmentNumber: deref(ss.AfterFragmentNumber), ContinuationToken: deref(ss.ContinuationToken)}
	if ss.StartTimestamp != nil {
		sel.StartTimestamp = time.Time(*ss.StartTimestamp)
	}
	switch {
	case sel.Type == "FRAGMENT_NUMBER" && ss.AfterFragmentNumber == nil:
		writeError(w, invalid("AfterFragmentNumber is required when StartSelectorType is FRAGMENT_NUMBER."))
		return
	case (sel.Type == "PRODUCER_TIMESTAMP" || sel.Type == "SERVER_TIMESTAMP") && ss.StartTimestamp == nil:
		writeError(w, invalid("StartTimestamp is required when StartSelectorType is "+sel.Type+"."))
		return
	case sel.Type == "CONTINUATION_TOKEN" && ss.ContinuationToken == nil:
		writeError(w, invalid("ContinuationToken is required when StartSelectorType is CONTINUATION_TOKEN."))
		return
	}
	info, err := s.store.Stream(r.Context(), deref(in.StreamName), deref(in.StreamARN))
	if err != nil {
		writeError(w, s.asAPIError(err))
		return
	}
	if e := s.authorize(p, "GetMedia", info.ARN); e != nil {
		writeError(w, e)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "video/webm")
	cur, err := s.store.NewCursor(r.Context(), info.Name, "", sel)
	if errors.Is(err, video.ErrFragmentNotFound) {
		// The service's error tags, and the end of the answer.
		w.WriteHeader(http.StatusOK)
		doc, derr := video.ErrorDocument(4000, "Requested fragment is not found")
		if derr == nil {
			_, _ = w.Write(doc)
		}
		return
	}
	if err != nil {
		writeError(w, s.asAPIError(err))
		return
	}
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	for {
		f, behind, err := cur.Next(r.Context())
		if err != nil {
			// The client went away, the stream was deleted or the store
			// closed: the answer ends.
			return
		}
		doc, err := f.Document(video.TagContinuationToken, f.Number, video.TagMillisBehindNow, strconv.FormatInt(behind.Milliseconds(), 10))
		if err != nil {
			if s.opts.ErrorLog != nil {
				s.opts.ErrorLog("videoapi: GetMedia %s: %v", info.Name, err)
			}
			return
		}
		if _, err := w.Write(doc); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
