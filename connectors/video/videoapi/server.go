// Package videoapi is the Kinesis Video Streams wire server over a
// connectors/video Store: the control plane (CreateStream … ListTagsForResource,
// GetDataEndpoint) and the media data plane (PutMedia, GetMedia) as REST-JSON
// at the paths botocore's kinesisvideo and kinesis-video-media models give
// them, all signed for the "kinesisvideo" service.
//
// Other handlers on the same store (archived media) join with Handle.
package videoapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/awsjson"
	"github.com/sluicehq/sluice/connectors/video"
)

// SigningName is the service name Kinesis Video clients sign for.
const SigningName = "kinesisvideo"

// Options configure a Server.
type Options struct {
	// Authenticate checks a request's signature over its whole body and
	// returns its principal; nil: requests are not checked. An error with
	// ErrorCode() and ErrorMessage() is answered as that error (status 403).
	Authenticate func(hr *http.Request, body []byte) (any, error)
	// AuthenticateStreaming checks a request whose body streams (PutMedia):
	// signed with an unsigned payload. Nil: not checked.
	AuthenticateStreaming func(hr *http.Request) (any, error)
	// Authorize checks that the principal may do action
	// ("kinesisvideo:PutMedia") on resource (an ARN or "*"); nil: all may.
	Authorize func(principal any, action, resource string) error
	// ErrorLog receives internal errors (nil: discarded).
	ErrorLog func(format string, args ...any)
	// PutOptions are PutMedia's limits (video.PutOptions' defaults).
	MaxFragmentBytes    int64
	MaxFragmentDuration time.Duration
}

// Server answers the Kinesis Video Streams APIs. It is an http.Handler.
type Server struct {
	store *video.Store
	opts  Options

	mu     sync.RWMutex
	routes map[string]http.Handler
}

// New returns a server over store.
func New(store *video.Store, opts Options) *Server {
	s := &Server{store: store, opts: opts, routes: map[string]http.Handler{}}
	for path, op := range controlOps {
		s.routes[path] = s.control(op)
	}
	s.routes["/putMedia"] = http.HandlerFunc(s.putMedia)
	s.routes["/getMedia"] = http.HandlerFunc(s.getMedia)
	return s
}

// Store is the server's store.
func (s *Server) Store() *video.Store { return s.store }

// Handle adds a handler for POST path (e.g. "/listFragments") or, with a
// trailing slash, for every path under it (e.g. "/hls/").
func (s *Server) Handle(path string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[path] = h
}

func (s *Server) route(path string) http.Handler {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if h, ok := s.routes[path]; ok {
		return h
	}
	for p, h := range s.routes {
		if strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) {
			return h
		}
	}
	return nil
}

// Handles reports whether path is one of the server's (for a mux that
// serves other APIs beside it).
func (s *Server) Handles(path string) bool { return s.route(path) != nil }

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := s.route(r.URL.Path)
	if h == nil {
		writeError(w, &apiError{"UnknownOperationException", ""})
		return
	}
	h.ServeHTTP(w, r)
}

// apiError is an error answer: the error name, as x-amzn-ErrorType and the
// model's status, and the message.
type apiError struct{ code, msg string }

func (e *apiError) Error() string { return e.code + ": " + e.msg }

var statusOf = map[string]int{
	"ResourceNotFoundException": http.StatusNotFound,
	"NotAuthorizedException":    http.StatusUnauthorized,
	"AccessDeniedException":     http.StatusUnauthorized,
	"UnknownOperationException": http.StatusNotFound,
	"InternalFailure":           http.StatusInternalServerError,
	// Authentication (the signature's refusals, as AWS REST APIs answer).
	"UnrecognizedClientException":  http.StatusForbidden,
	"InvalidSignatureException":    http.StatusForbidden,
	"IncompleteSignatureException": http.StatusForbidden,
	"MissingAuthenticationToken":   http.StatusForbidden,
}

func writeError(w http.ResponseWriter, e *apiError) {
	status, ok := statusOf[e.code]
	if !ok {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Message string `json:"Message,omitempty"`
	}{e.msg})
	_, _ = w.Write(b)
}

// The service's messages.
const (
	msgNotFound        = "The requested stream is not found or not active."
	msgNameOrARN       = "Either streamName or streamARN must be specified, but not both."
	msgVersionMismatch = "The stream version does not match the current version."
	msgTooManyTags     = "The number of tags on the stream exceeds the limit of 50."
)

func invalid(msg string) *apiError { return &apiError{"InvalidArgumentException", msg} }

// asAPIError maps the store's and the authenticator's errors onto answers.
func (s *Server) asAPIError(err error) *apiError {
	var ae *apiError
	var se interface {
		error
		ErrorCode() string
		ErrorMessage() string
	}
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &se):
		return &apiError{se.ErrorCode(), se.ErrorMessage()}
	case errors.Is(err, video.ErrStreamNotFound):
		return &apiError{"ResourceNotFoundException", msgNotFound}
	case errors.Is(err, video.ErrStreamExists):
		return &apiError{"ResourceInUseException", "The stream is already in use."}
	case errors.Is(err, video.ErrVersionMismatch):
		return &apiError{"VersionMismatchException", msgVersionMismatch}
	case errors.Is(err, video.ErrTooManyTags):
		return &apiError{"TagsPerResourceExceededLimitException", msgTooManyTags}
	case errors.Is(err, video.ErrInvalidArgument):
		return invalid("The data retention period cannot be decreased below 0 hours.")
	}
	if s.opts.ErrorLog != nil {
		s.opts.ErrorLog("videoapi: %v", err)
	}
	return &apiError{"InternalFailure", "The request processing has failed because of an unknown error, exception or failure."}
}

// The members' rules, from the kinesisvideo model.
var (
	streamNamePat = awsjson.NewPattern(`[a-zA-Z0-9_.-]+`)
	arnPat        = awsjson.NewPattern(`arn:[a-z\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+`)
	mediaTypePat  = awsjson.NewPattern(`[\w\-\.\+]+/[\w\-\.\+]+(,[\w\-\.\+]+/[\w\-\.\+]+)*`)
	versionPat    = awsjson.NewPattern(`[a-zA-Z0-9]+`)
	kmsPat        = awsjson.NewPattern(`.+`)
	tokenPat      = awsjson.NewPattern(`[a-zA-Z0-9+/=]*`)
	tagKeyPat     = awsjson.NewPattern(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
	tagValuePat   = awsjson.NewPattern(`[\p{L}\p{Z}\p{N}_.:/=+\-@]*`)
	fragNumPat    = awsjson.NewPattern(`^[0-9]+$`)
	contTokenPat  = awsjson.NewPattern(`^[a-zA-Z0-9_\.\-]+$`)

	ruleStreamName = awsjson.PatternRule(streamNamePat, 1, 256)
	ruleARN        = awsjson.PatternRule(arnPat, 1, 1024)
	ruleDevice     = awsjson.PatternRule(streamNamePat, 1, 128)
	ruleMediaType  = awsjson.PatternRule(mediaTypePat, 1, 128)
	ruleVersion    = awsjson.PatternRule(versionPat, 1, 64)
	ruleKms        = awsjson.PatternRule(kmsPat, 1, 2048)
	ruleToken      = awsjson.PatternRule(tokenPat, 0, 1024)
)

func num(p *int) awsjson.Value {
	if p == nil {
		return awsjson.Num(nil)
	}
	v := int64(*p)
	return awsjson.Num(&v)
}

// checkTags checks a tag map as the model's ResourceTags.
func checkTags(vs *awsjson.Violations, path string, tags map[string]string, required bool) {
	r := awsjson.LengthRule(1, 50)
	if required {
		r = r.Need()
	}
	if !vs.Check(path, awsjson.Dict(tags), r) {
		return
	}
	keys := make([]string, 0, len(tags))
	vals := make([]string, 0, len(tags))
	for k, v := range tags {
		keys = append(keys, k)
		vals = append(vals, v)
	}
	sort.Strings(keys)
	vs.CheckElements(path, awsjson.Dict(tags), keys, "Map keys", 1, 128)
	vs.CheckElements(path, awsjson.Dict(tags), vals, "Map value", 0, 256)
	for _, k := range keys {
		v := tags[k]
		if !tagKeyPat.MatchString(k) || !tagValuePat.MatchString(v) {
			vs.Msgs = append(vs.Msgs, "Value "+awsjson.Dict(tags).Quoted()+" at '"+path+"' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "+tagKeyPat.Text+"]")
			return
		}
	}
}

// nameOrARN checks that exactly one of name and arn is given.
func nameOrARN(name, arn *string) error {
	if (name == nil) == (arn == nil) {
		return invalid(msgNameOrARN)
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// epochSeconds is a timestamp as REST-JSON writes it.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", float64(time.Time(t).UnixMilli())/1000)), nil
}

func (t *epochSeconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("a timestamp in seconds: %w", err)
	}
	sec, frac := math.Modf(f)
	*t = epochSeconds(time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)))
	return nil
}

// readBody reads a request's whole JSON body, authenticates it, and
// decodes it into in.
func (s *Server) readBody(r *http.Request, in any) (any, *apiError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, &apiError{"InvalidArgumentException", "The request body could not be read."}
	}
	var principal any
	if s.opts.Authenticate != nil {
		if principal, err = s.opts.Authenticate(r, body); err != nil {
			return nil, s.asAPIError(err)
		}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, in); err != nil {
		return nil, &apiError{"SerializationException", "Start of structure or map found where not expected."}
	}
	return principal, nil
}

func (s *Server) authorize(principal any, op, resource string) *apiError {
	if s.opts.Authorize == nil {
		return nil
	}
	if resource == "" {
		resource = "*"
	}
	if err := s.opts.Authorize(principal, "kinesisvideo:"+op, resource); err != nil {
		return s.asAPIError(err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, &apiError{"InternalFailure", "The response could not be encoded."})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// streamInfo is StreamInfo on the wire.
type streamInfo struct {
	DeviceName           string       `json:"DeviceName,omitempty"`
	StreamName           string       `json:"StreamName"`
	StreamARN            string       `json:"StreamARN"`
	MediaType            string       `json:"MediaType,omitempty"`
	KmsKeyID             string       `json:"KmsKeyId,omitempty"`
	Version              string       `json:"Version"`
	Status               string       `json:"Status"`
	CreationTime         epochSeconds `json:"CreationTime"`
	DataRetentionInHours int          `json:"DataRetentionInHours"`
}

func wireInfo(i video.StreamInfo) streamInfo {
	return streamInfo{
		DeviceName: i.DeviceName, StreamName: i.Name, StreamARN: i.ARN, MediaType: i.MediaType,
		KmsKeyID: i.KmsKeyID, Version: i.Version, Status: i.Status,
		CreationTime: epochSeconds(i.CreationTime), DataRetentionInHours: i.DataRetentionInHours,
	}
}

// resourceOf is the ARN a request names (for policies), or "*".
func (s *Server) resourceOf(ctx context.Context, name, arn *string) string {
	if arn != nil {
		return *arn
	}
	if name != nil {
		if i, err := s.store.Stream(ctx, *name, ""); err == nil {
			return i.ARN
		}
	}
	return "*"
}
