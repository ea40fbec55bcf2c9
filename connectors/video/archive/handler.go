// Package archive is the HTTP handler of Kinesis Video Streams' archived
// media API (REST-JSON, as botocore's kinesis-video-archived-media model
// defines it): ListFragments, GetMediaForFragmentList, GetClip and
// GetHLSStreamingSessionURL, and the HLS resources a session URL leads to
// (getHLSMasterPlaylist.m3u8, getHLSMediaPlaylist.m3u8, getMP4InitFragment.mp4,
// getMP4MediaFragment.mp4 under /hls/v1/, authorised by the URL's
// SessionToken). It reads fragments only through video.Archive and converts
// them with connectors/video/media.
package archive

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/awsjson"
	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/media"
	"github.com/sluicehq/sluice/internal/clock"
)

// Verifier checks a request's SigV4 signature (the serve wiring passes the
// log server's). body is the request's body, already read. An error with
// ErrorCode() and ErrorMessage() methods is answered with that code and
// message, others as NotAuthorizedException.
type Verifier func(r *http.Request, body []byte) error

// Option configures a Handler.
type Option func(*Handler)

// WithVerifier makes every API call (not the HLS resources, which carry a
// session token) pass v first.
func WithVerifier(v Verifier) Option { return func(h *Handler) { h.verify = v } }

// WithClock sets the clock of session expiry, LIVE windows, retention and
// limits (default the real clock).
func WithClock(c clock.Clock) Option { return func(h *Handler) { h.clock = c } }

// WithSecret sets the key session tokens are signed with (default a random
// key, so that tokens do not survive a restart).
func WithSecret(key []byte) Option { return func(h *Handler) { h.secret = key } }

// WithoutLimits turns off the per-stream and per-session request rate
// limits (ClientLimitExceededException).
func WithoutLimits() Option { return func(h *Handler) { h.limits = nil } }

// Handler serves the archived-media API.
type Handler struct {
	archive video.Archive
	verify  Verifier
	clock   clock.Clock
	secret  []byte
	limits  *limiter
}

// New returns the handler of the archived-media API over a.
func New(a video.Archive, opts ...Option) *Handler {
	h := &Handler{archive: a, limits: newLimiter()}
	for _, o := range opts {
		o(h)
	}
	h.clock = clock.Or(h.clock)
	if h.secret == nil {
		h.secret = make([]byte, 32)
		if _, err := rand.Read(h.secret); err != nil {
			panic(fmt.Sprintf("archive: no randomness for the session key: %v", err))
		}
	}
	return h
}

// maxBody bounds a request body (the inputs are small JSON documents).
const maxBody = 1 << 20

// HLSPrefix is where the HLS resources are served.
const HLSPrefix = "/hls/v1/"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, HLSPrefix) {
		h.serveHLS(w, r)
		return
	}
	op, ok := operations[r.URL.Path]
	if !ok || r.Method != http.MethodPost {
		writeError(w, &apiError{Code: "UnknownOperationException", Status: http.StatusNotFound})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, errInvalid("Could not read the request body: "+err.Error()))
		return
	}
	if len(body) > maxBody {
		writeError(w, errInvalid(fmt.Sprintf("The request body is larger than %d bytes.", maxBody)))
		return
	}
	if h.verify != nil {
		if err := h.verify(r, body); err != nil {
			writeError(w, authError(err))
			return
		}
	}
	if err := op(h, r, w, body); err != nil {
		writeError(w, err)
	}
}

// Paths are the API's operations' paths; with HLSPrefix, every path the
// handler serves.
func Paths() []string {
	out := make([]string, 0, len(operations))
	for p := range operations {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

var operations = map[string]func(*Handler, *http.Request, http.ResponseWriter, []byte) error{
	"/listFragments":             (*Handler).listFragments,
	"/getMediaForFragmentList":   (*Handler).getMediaForFragmentList,
	"/getClip":                   (*Handler).getClip,
	"/getHLSStreamingSessionURL": (*Handler).getHLSStreamingSessionURL,
}

// apiError is an error answered with the service's exception.
type apiError struct {
	Code    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// The service's exceptions and their HTTP statuses (the model's).
func errInvalid(msg string) *apiError {
	return &apiError{Code: "InvalidArgumentException", Message: msg, Status: http.StatusBadRequest}
}

func errNotFound(msg string) *apiError {
	return &apiError{Code: "ResourceNotFoundException", Message: msg, Status: http.StatusNotFound}
}

func errNotAuthorized(msg string) *apiError {
	return &apiError{Code: "NotAuthorizedException", Message: msg, Status: http.StatusForbidden}
}

// Messages the service gives.
const (
	msgStreamNotFound     = "The requested stream is not found or not active."
	msgNoFragmentsSession = "No fragments found in the stream for the streaming request."
	msgNoFragmentsClip    = "No fragments found in the stream for the clip request."
	msgNoRetention        = "A streaming session was requested for a stream that does not retain data (that is, has a DataRetentionInHours of 0)."
	msgUnsupportedMedia   = "The type of the media (for example, h.264 or h.265 video or ACC or G.711 audio) could not be determined from the codec IDs of the tracks in the first fragment for a playback session. The codec ID for track 1 should be V_MPEG/ISO/AVC and, optionally, the codec ID for track 2 should be A_AAC."
	msgMissingCodecData   = "No codec private data was found in at least one of tracks of the video stream."
	msgInvalidCodecData   = "The codec private data in at least one of the tracks of the video stream is not valid for this operation."
	msgInvalidFrame       = "One or more frames in the requested clip could not be parsed based on the specified codec."
	msgThrottled          = "Kinesis Video Streams has throttled the request because you have exceeded a limit. Try making the call later."
	msgTokenExpired       = "Streaming session token is expired"
	msgTokenInvalid       = "The streaming session token is not valid."
)

// mediaError maps a conversion error to the service's exception.
func mediaError(err error) error {
	switch {
	case errors.Is(err, media.ErrUnsupportedMedia):
		return &apiError{Code: "UnsupportedStreamMediaTypeException", Message: msgUnsupportedMedia, Status: http.StatusBadRequest}
	case errors.Is(err, media.ErrMissingCodecPrivate):
		return &apiError{Code: "MissingCodecPrivateDataException", Message: msgMissingCodecData, Status: http.StatusBadRequest}
	case errors.Is(err, media.ErrInvalidCodecPrivate):
		return &apiError{Code: "InvalidCodecPrivateDataException", Message: msgInvalidCodecData, Status: http.StatusBadRequest}
	case errors.Is(err, media.ErrInvalidFrame), errors.Is(err, media.ErrNotMatroska):
		return &apiError{Code: "InvalidMediaFrameException", Message: msgInvalidFrame, Status: http.StatusBadRequest}
	}
	return err
}

// archiveError maps the Archive's errors.
func archiveError(err error) error {
	switch {
	case errors.Is(err, video.ErrStreamNotFound):
		return errNotFound(msgStreamNotFound)
	case errors.Is(err, video.ErrFragmentNotFound):
		return errNotFound("The requested fragment is not found.")
	}
	return err
}

func authError(err error) error {
	var coded interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if errors.As(err, &coded) {
		return &apiError{Code: coded.ErrorCode(), Message: coded.ErrorMessage(), Status: http.StatusForbidden}
	}
	return errNotAuthorized(err.Error())
}

// errorTypeSuffix follows the exception name in x-amzn-ErrorType, as the
// service sends it.
const errorTypeSuffix = ":https://kinesisvideo.amazonaws.com/doc/2017-09-30/"

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{Code: "InternalFailure", Message: err.Error(), Status: http.StatusInternalServerError}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", ae.Code+errorTypeSuffix)
	w.WriteHeader(ae.Status)
	b, _ := json.Marshal(struct {
		Message string `json:"Message,omitempty"`
	}{ae.Message})
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("archive: encoding a response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

// decode reads a JSON input; a body that is not one is refused as the
// service refuses it.
func decode(body []byte, v any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &apiError{Code: "SerializationException", Message: fmt.Sprintf("Unexpected value for %s: %s", te.Field, te.Value), Status: http.StatusBadRequest}
		}
		return &apiError{Code: "SerializationException", Message: "Could not parse the request body as JSON: " + err.Error(), Status: http.StatusBadRequest}
	}
	return nil
}

// epoch is a REST-JSON timestamp: seconds since the epoch, fractional
// (what the SDKs send), or an ISO 8601 string.
type epoch struct{ time.Time }

func (e *epoch) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("timestamp %q: %w", s, err)
		}
		e.Time = t
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
		return &json.UnmarshalTypeError{Value: "timestamp " + string(b), Type: nil, Field: "Timestamp"}
	}
	sec, frac := math.Modf(f)
	e.Time = time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
	return nil
}

// seconds is how responses write a timestamp: epoch seconds, to the
// millisecond.
type seconds time.Time

func (s seconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(s).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

// The model's member constraints.
var (
	ruleStreamName = awsjson.PatternRule(awsjson.NewPattern(`[a-zA-Z0-9_.-]+`), 1, 256)
	ruleStreamARN  = awsjson.PatternRule(awsjson.NewPattern(`arn:[a-z\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+`), 1, 1024)
	ruleSelector   = awsjson.EnumRule("PRODUCER_TIMESTAMP", "SERVER_TIMESTAMP")
	ruleNextToken  = awsjson.PatternRule(awsjson.NewPattern(`[a-zA-Z0-9+/]+={0,2}`), 1, 4096)
	ruleFragNumber = awsjson.PatternRule(awsjson.NewPattern(`^[0-9]+$`), 1, 128)
)

// stream resolves the stream an input names, after its name and ARN passed
// their rules.
func (h *Handler) stream(ctx context.Context, name, arn *string) (video.StreamInfo, error) {
	var n, a string
	if name != nil {
		n = *name
	}
	if arn != nil {
		a = *arn
	}
	if n == "" && a == "" {
		return video.StreamInfo{}, errInvalid("Either StreamName or StreamARN must be specified.")
	}
	if n != "" && a != "" {
		return video.StreamInfo{}, errInvalid("Specify either StreamName or StreamARN, not both.")
	}
	info, err := h.archive.Stream(ctx, n, a)
	if err != nil {
		return video.StreamInfo{}, archiveError(err)
	}
	if info.Status != "" && info.Status != "ACTIVE" && info.Status != "UPDATING" {
		return video.StreamInfo{}, errNotFound(msgStreamNotFound)
	}
	return info, nil
}

func checkStream(vs *awsjson.Violations, name, arn *string) {
	vs.Check("streamName", awsjson.Str(name), ruleStreamName)
	vs.Check("streamARN", awsjson.Str(arn), ruleStreamARN)
}

func violations(vs *awsjson.Violations) error {
	if len(vs.Msgs) == 0 {
		return nil
	}
	return errInvalid(awsjson.Message(vs.Msgs))
}

func timestampType(s string) video.TimestampType {
	if s == "SERVER_TIMESTAMP" {
		return video.ServerTimestamp
	}
	return video.ProducerTimestamp
}

// checkRetention refuses an end timestamp older than what the stream keeps.
func (h *Handler) checkRetention(info video.StreamInfo, end time.Time) error {
	if info.DataRetentionInHours <= 0 {
		return nil
	}
	oldest := h.clock.Now().Add(-time.Duration(info.DataRetentionInHours) * time.Hour)
	if end.Before(oldest) {
		return errInvalid(fmt.Sprintf("End timestamp %d is outside of the stream retention period.", end.UnixMilli()))
	}
	return nil
}
