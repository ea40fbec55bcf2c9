package firehoseapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/firehose"
)

// TargetPrefix is the X-Amz-Target prefix of the Firehose API: a request
// whose target starts with it is this server's.
const TargetPrefix = "Firehose_20150804."

const ctJSON = "application/x-amz-json-1.1"

// Error names the server answers.
type errCode string

const (
	codeValidation                errCode = "ValidationException"
	codeInvalidArgument           errCode = "InvalidArgumentException"
	codeNotFound                  errCode = "ResourceNotFoundException"
	codeInUse                     errCode = "ResourceInUseException"
	codeLimitExceeded             errCode = "LimitExceededException"
	codeConcurrentMod             errCode = "ConcurrentModificationException"
	codeUnavailable               errCode = "ServiceUnavailableException"
	codeSerialization             errCode = "SerializationException"
	codeUnknownOperation          errCode = "UnknownOperationException"
	codeMissingAuth               errCode = "MissingAuthenticationTokenException"
	codeInternalFailure           errCode = "InternalFailure"
	codeAccessDenied              errCode = "AccessDeniedException"
	msgMissingAuth                        = "Missing Authentication Token"
	msgNoOperationName                    = "Unable to determine service/operation name to be authorized"
	msgNotPermittedOnKinesis              = "This operation is not permitted on KinesisStreamAsSource delivery stream type."
	msgServiceUnavailableSlowDown         = "Slow down."
)

type apiError struct {
	code errCode
	msg  string
}

func (e *apiError) Error() string { return string(e.code) + ": " + e.msg }

func statusOf(c errCode) int {
	switch c {
	case codeInternalFailure:
		return 500
	case codeUnavailable:
		return 503
	}
	return 400
}

// PutResult is the outcome of one record of a put: its record id, or the
// error that kept it out of the log.
type PutResult struct {
	RecordID string
	Err      error
}

// Backend is what runs delivery streams: the service that owns the log
// and the engine. The Server keeps the definitions, their statuses, tags
// and versions; the Backend stores records and delivers them.
type Backend interface {
	// Start makes the delivery stream's input ready (for DirectPut, a
	// stream of records durable before Put returns) and starts delivering
	// it with cfg, from where an earlier run stopped. It is called on
	// CreateDeliveryStream, for every delivery stream when the server
	// starts, and after UpdateDestination (after Stop).
	Start(ctx context.Context, ds DeliveryStream, cfg firehose.Config) error
	// Stop ends the delivery after a last checkpoint; Start may follow.
	Stop(ctx context.Context, name string) error
	// Remove deletes what Start created (the input of a DirectPut stream,
	// checkpoints). The delivery is stopped first.
	Remove(ctx context.Context, name string) error
	// Put stores the records of a DirectPut delivery stream, each durable
	// before Put returns, and reports one result per record in order.
	Put(ctx context.Context, name string, data [][]byte) ([]PutResult, error)
	// CheckSource reports whether the Kinesis stream with this ARN can be
	// a source (nil) or why not.
	CheckSource(streamARN string) error
}

// Options configure a Server.
type Options struct {
	// Dir holds the delivery streams' definitions. Required.
	Dir string
	// Backend runs the delivery streams. Required.
	Backend Backend
	// Region and AccountID appear in ARNs and messages (defaults
	// us-east-1, 000000000000).
	Region, AccountID string
	// AllowAnonymous accepts requests without a signature. Otherwise a
	// request must carry one (else MissingAuthenticationTokenException),
	// verified by Authenticate when that is set.
	AllowAnonymous bool
	// Authenticate, when set, verifies a request's SigV4 signature (scoped
	// to the "firehose" service) and answers who signed it. Its refusals
	// carry the service's error name and message (ErrorCode and
	// ErrorMessage methods).
	Authenticate func(hr *http.Request, body []byte) (principal any, err error)
	// Authorize, when set, checks after validation that the principal may
	// perform action (firehose:<Operation>) on resource (the delivery
	// stream's ARN; "*" for ListDeliveryStreams); its refusals are as
	// Authenticate's.
	Authorize func(principal any, action, resource string) error
	// Now is the clock of timestamps (nil: time.Now).
	Now func() time.Time
	// MaxBodyBytes bounds a request body (default 8 MiB: a full
	// PutRecordBatch of 4 MiB in base64 JSON fits).
	MaxBodyBytes int64
	// ErrorLog receives internal errors and failures of asynchronous
	// status changes (nil: discarded).
	ErrorLog func(format string, args ...any)
}

// Server answers Firehose API requests.
type Server struct {
	opts Options
	reqs atomic.Uint64
	reg  *registry
	// bg tracks the asynchronous status changes (CREATING → ACTIVE,
	// DELETING → gone).
	bg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
	// records and bytes accepted, per delivery stream (for metrics).
	statsMu sync.Mutex
	stats   map[string]*Counters
}

// Counters are what a delivery stream accepted since the server started.
type Counters struct {
	Records, Bytes, FailedRecords int64
}

// New opens the definitions in opts.Dir and starts every delivery stream
// found there (a stream that was DELETING is deleted now).
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Dir == "" || opts.Backend == nil {
		return nil, errors.New("firehoseapi: Options.Dir and Options.Backend are required")
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	reg, err := openRegistry(opts.Dir)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, reg: reg, stats: map[string]*Counters{}}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, ds := range reg.all() {
		switch ds.Status {
		case StatusDeleting:
			if err := s.finishDelete(ctx, ds.Name); err != nil {
				return nil, err
			}
		case StatusCreatingFailed:
		default:
			cfg, err := s.deliveryConfig(ds)
			if err != nil {
				return nil, fmt.Errorf("firehoseapi: delivery stream %q: %w", ds.Name, err)
			}
			if err := opts.Backend.Start(ctx, ds, cfg); err != nil {
				return nil, fmt.Errorf("firehoseapi: start delivery stream %q: %w", ds.Name, err)
			}
			if ds.Status != StatusActive {
				ds.Status = StatusActive
				if err := reg.put(ds); err != nil {
					return nil, err
				}
			}
		}
	}
	return s, nil
}

// Close waits for the status changes in progress and stops every delivery
// stream (each after a last checkpoint).
func (s *Server) Close(ctx context.Context) error {
	s.bg.Wait()
	s.cancel()
	var errs []error
	for _, ds := range s.reg.all() {
		if err := s.opts.Backend.Stop(ctx, ds.Name); err != nil {
			errs = append(errs, fmt.Errorf("stop delivery stream %q: %w", ds.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Counters returns what each delivery stream accepted, by name.
func (s *Server) Counters() map[string]Counters {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := make(map[string]Counters, len(s.stats))
	for k, v := range s.stats {
		out[k] = *v
	}
	return out
}

func (s *Server) count(name string, recs, bytes, failed int64) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	c := s.stats[name]
	if c == nil {
		c = &Counters{}
		s.stats[name] = c
	}
	c.Records += recs
	c.Bytes += bytes
	c.FailedRecords += failed
}

// DeliveryStreams returns the definitions, by name.
func (s *Server) DeliveryStreams() []DeliveryStream { return s.reg.all() }

func (s *Server) logf(format string, args ...any) {
	if s.opts.ErrorLog != nil {
		s.opts.ErrorLog(format, args...)
	}
}

// ServeHTTP answers one Firehose API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	id := s.requestID()
	h := w.Header()
	h.Set("x-amzn-RequestId", id)
	h.Set("x-amz-id-2", id)
	if hr.Header.Get("Origin") != "" {
		h.Set("Access-Control-Allow-Origin", "*")
		if hr.Method == http.MethodOptions {
			if v := hr.Header.Get("Access-Control-Request-Headers"); v != "" {
				h.Set("Access-Control-Allow-Headers", v)
			}
			if v := hr.Header.Get("Access-Control-Request-Method"); v != "" {
				h.Set("Access-Control-Allow-Methods", v)
			}
			h.Set("Access-Control-Max-Age", "172800")
			w.WriteHeader(http.StatusOK)
			return
		}
		h.Set("Access-Control-Expose-Headers", "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date")
	}
	if hr.Method != http.MethodPost {
		writeXMLError(w, http.StatusForbidden, "AccessDeniedException", msgNoOperationName)
		return
	}
	name, _ := strings.CutPrefix(hr.Header.Get("X-Amz-Target"), TargetPrefix)
	op, known := operations[name]
	body, err := io.ReadAll(http.MaxBytesReader(w, hr.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.writeError(w, &apiError{code: codeSerialization, msg: fmt.Sprintf("Request body is larger than %d bytes", s.opts.MaxBodyBytes)})
			return
		}
		s.writeError(w, &apiError{code: codeSerialization, msg: "Request body could not be read: " + err.Error()})
		return
	}
	if !known {
		s.writeError(w, &apiError{code: codeUnknownOperation})
		return
	}
	if s.opts.AllowAnonymous {
		// no authentication
	} else if hr.Header.Get("Authorization") == "" && hr.URL.Query().Get("X-Amz-Algorithm") == "" {
		s.writeError(w, &apiError{code: codeMissingAuth, msg: msgMissingAuth})
		return
	}
	ctx := hr.Context()
	if s.opts.Authenticate != nil && !s.opts.AllowAnonymous {
		p, err := s.opts.Authenticate(hr, body)
		if err != nil {
			s.writeError(w, serviceError(err))
			return
		}
		ctx = context.WithValue(ctx, principalKey{}, p)
	}
	out, err := op(s, ctx, name, body)
	if err != nil {
		s.writeError(w, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, fmt.Errorf("encode response: %w", err))
		return
	}
	h.Set("Content-Type", ctJSON)
	w.Write(b)
}

// decode reads body into v: SerializationException for a body that is
// not a JSON object of the input's shape.
func decode(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the request object")
	}
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return &apiError{code: codeSerialization, msg: fmt.Sprintf("Unexpected %s value at %s", strings.Fields(te.Value)[0], te.Field)}
	case errors.As(err, &se):
		return &apiError{code: codeSerialization, msg: fmt.Sprintf("Malformed request body at offset %d: %v", se.Offset, err)}
	}
	return &apiError{code: codeSerialization, msg: "Malformed request body: " + strings.TrimPrefix(err.Error(), "json: ")}
}

type principalKey struct{}

// serviceError maps a refusal of Authenticate or Authorize (an error with
// ErrorCode and ErrorMessage) onto the answer.
func serviceError(err error) error {
	var se interface {
		error
		ErrorCode() string
		ErrorMessage() string
	}
	if errors.As(err, &se) {
		return &apiError{code: errCode(se.ErrorCode()), msg: se.ErrorMessage()}
	}
	return err
}

// authorize checks the request's principal for the operation on the
// delivery stream name ("" for none: resource "*").
func (s *Server) authorize(ctx context.Context, op, name string) error {
	if s.opts.Authorize == nil {
		return nil
	}
	resource := "*"
	if name != "" {
		resource = s.arn(name)
	}
	return serviceError(s.opts.Authorize(ctx.Value(principalKey{}), "firehose:"+op, resource))
}

type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message,omitempty"`
}

func (s *Server) writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.logf("firehoseapi: internal error: %v", err)
		ae = &apiError{code: codeInternalFailure, msg: "Internal service failure."}
	}
	b, _ := json.Marshal(errorBody{Type: string(ae.code), Message: ae.msg})
	w.Header().Set("Content-Type", ctJSON)
	w.Header().Set("X-Amzn-ErrorType", string(ae.code))
	w.WriteHeader(statusOf(ae.code))
	w.Write(b)
}

func writeXMLError(w http.ResponseWriter, status int, name, msg string) {
	w.WriteHeader(status)
	io.WriteString(w, "<"+name+">\n  <Message>"+msg+"</Message>\n</"+name+">\n")
}

func (s *Server) requestID() string {
	var b [16]byte
	n := s.reqs.Add(1)
	rand.Read(b[:8])
	for i := range 8 {
		b[8+i] = byte(n >> (8 * i))
	}
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// CreateIfMissing creates the delivery stream that input (a
// CreateDeliveryStream request body, in the API's JSON) describes, unless
// one of its name exists: created reports which. Errors are the
// operation's (validation, InvalidArgumentException).
func (s *Server) CreateIfMissing(ctx context.Context, input []byte) (created bool, err error) {
	_, err = operations["CreateDeliveryStream"](s, ctx, "CreateDeliveryStream", input)
	var ae *apiError
	if errors.As(err, &ae) && ae.code == codeInUse {
		return false, nil
	}
	return err == nil, err
}

// WaitActive waits until the delivery stream name is ACTIVE (or gone, or
// ctx ends).
func (s *Server) WaitActive(ctx context.Context, name string) error {
	for {
		ds, ok := s.reg.get(name)
		switch {
		case !ok:
			return s.notFound(name)
		case ds.Status == StatusActive:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("delivery stream %q is still %s: %w", name, ds.Status, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WaitIdle waits for the status changes in progress (creations becoming
// ACTIVE, deletions completing).
func (s *Server) WaitIdle() { s.bg.Wait() }
