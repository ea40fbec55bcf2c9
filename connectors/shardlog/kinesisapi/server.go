package kinesisapi

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// Options configure a Server.
type Options struct {
	// Credentials, when set, are the keys whose SigV4 signatures the
	// server accepts: every request must be signed by one of them, and
	// its principal's policy must allow it (auth.go, policy.go).
	Credentials *Credentials
	// AllowAnonymous turns authentication off: requests need no
	// signature, and signatures are not checked. With neither this nor
	// Credentials (the default, for embedded and development use) a
	// request must carry a signature, as for Kinesis (else
	// MissingAuthenticationTokenException), but it is not checked.
	AllowAnonymous bool
	// Now is the clock of the signature time window (nil: time.Now).
	Now func() time.Time
	// MaxBodyBytes bounds a request body. Default 16 MiB (a 5 MiB
	// PutRecords in base64 JSON fits).
	MaxBodyBytes int64
	// ErrorLog receives internal errors (nil: discarded).
	ErrorLog func(format string, args ...any)
	// OnPut, when set, is told of every record PutRecord and PutRecords
	// stored: its stream, shard and data size (for metrics; it must not
	// block).
	OnPut func(stream, shardID string, bytes int)
}

// Server answers Kinesis API requests from a Log.
type Server struct {
	log  *shardlog.Log
	opts Options
	reqs atomic.Uint64
	// account and region are the log's, as messages name them.
	account, region string

	mu struct {
		sync.Mutex
		subs map[*shardlog.Subscription]struct{}
	}
	stopSubs chan struct{}
	stopOnce sync.Once
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 16 << 20
	}
}

// Validate reports options that cannot work: a body limit too small for a
// full PutRecords (5 MiB of data, in base64 JSON).
func (o *Options) Validate() error {
	if o.MaxBodyBytes < 8<<20 {
		return fmt.Errorf("kinesisapi: MaxBodyBytes %d is below 8 MiB, too small for a full PutRecords", o.MaxBodyBytes)
	}
	if o.AllowAnonymous && o.Credentials != nil {
		return errors.New("kinesisapi: AllowAnonymous and Credentials exclude each other (AllowAnonymous would ignore the credentials)")
	}
	return nil
}

// New returns a server for l. The caller keeps ownership of l. A body
// limit that fails Validate is replaced by the default; AllowAnonymous
// with Credentials serves anonymously (New does not fail; call Validate
// to check a configuration).
func New(l *shardlog.Log, opts Options) *Server {
	opts.EnsureDefaults()
	if opts.MaxBodyBytes < 8<<20 {
		opts.MaxBodyBytes = 16 << 20
	}
	lo := l.Options()
	s := &Server{log: l, opts: opts, stopSubs: make(chan struct{}), account: lo.AccountID, region: lo.Region}
	s.mu.subs = map[*shardlog.Subscription]struct{}{}
	return s
}

// HTTPServer returns an http.Server serving s on HTTP/1.1, HTTP/2 with
// prior knowledge over cleartext and, with tlsConfig, HTTP/2 over TLS.
func (s *Server) HTTPServer(tlsConfig *tls.Config) *http.Server {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP2(true)
	return &http.Server{
		Handler:           s,
		Protocols:         p,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
}

// Serve accepts connections on ln until ctx ends, then shuts down: open
// subscriptions end and in-flight requests get up to 5 s to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	hs := s.HTTPServer(tlsConfig)
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.StopSubscriptions()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// StopSubscriptions ends the open SubscribeToShard subscriptions (and any
// opened later at once), for a server mounted in another http.Server that
// is shutting down; Serve calls it itself.
func (s *Server) StopSubscriptions() { s.stopOnce.Do(func() { close(s.stopSubs) }) }

// SelfSignedTLS returns a TLS config with a fresh self-signed certificate
// for the given host names and IPs (for tests and local use).
func SelfSignedTLS(hosts ...string) (*tls.Config, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "sluice log"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, der, nil
}

const (
	targetPrefix = "Kinesis_20131202."
	ctJSON       = "application/x-amz-json-1.1"
	ctCBOR       = "application/x-amz-cbor-1.1"
	ctEvents     = "application/vnd.amazon.eventstream"
)

// request is one decoded API call.
type request struct {
	ctx  context.Context
	op   string
	cbor bool
	body []byte
	// principal signed the request (nil without credentials).
	principal *Principal
}

// fastDecoder is an input with a decoder of its own for its common JSON
// shape; it reports false for anything else, which encoding/json decodes.
type fastDecoder interface {
	decodeFast(body []byte) bool
}

// decode reads the body into v, answering SerializationException for a
// body that is not well-formed or has a field of the wrong type.
func (r *request) decode(v any) error {
	if fd, ok := v.(fastDecoder); ok && !r.cbor && fd.decodeFast(r.body) {
		return nil
	}
	body := r.body
	if r.cbor {
		// A CBOR body is binary: its last byte may well be 0x20 or 0x0a,
		// so it is never trimmed.
		if len(body) == 0 {
			return nil
		}
	} else if body = bytes.TrimSpace(body); len(body) == 0 {
		body = []byte("{}")
	}
	var err error
	if r.cbor {
		err = cborDec.Unmarshal(body, v)
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		if err = dec.Decode(v); err == nil && dec.More() {
			err = errors.New("unexpected data after the request object")
		}
	}
	if err != nil {
		return &apiError{code: codeSerialization, msg: serializationMessage(err)}
	}
	return nil
}

func serializationMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		found, _, _ := strings.Cut(te.Value, " ") // "number 1.5": a number
		if msg := wrongType(found, javaKind(te.Type.String())); msg != "" {
			return msg
		}
		return "Unexpected " + found + " value"
	}
	var ce *cbor.UnmarshalTypeError
	if errors.As(err, &ce) {
		if msg := wrongType(cborFound(ce.CBORType), javaKind(ce.GoType)); msg != "" {
			return msg
		}
		return "Unexpected " + ce.CBORType + " value"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("Malformed request body at offset %d: %v", se.Offset, err)
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	msg = strings.TrimPrefix(msg, "cbor: ")
	return "Malformed request body: " + msg
}

// javaKind is the kind of member the service (a Java one) would decode a
// Go type of the inputs into: String, Integer, Boolean, Blob, List, Map
// or Structure.
func javaKind(goType string) string {
	switch {
	case goType == "string":
		return "String"
	case goType == "bool":
		return "Boolean"
	case goType == "[]uint8":
		return "Blob"
	case strings.HasPrefix(goType, "[]"):
		return "List"
	case strings.HasPrefix(goType, "map["):
		return "Map"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "Integer"
	}
	return "Structure"
}

// cborFound is the JSON kind of a CBOR type, as wrongType names them.
func cborFound(t string) string {
	switch t {
	case "positive integer", "negative integer":
		return "number"
	case "byte string", "UTF-8 text string":
		return "string"
	case "map":
		return "object"
	case "array":
		return "array"
	case "primitives":
		return "bool"
	}
	return t
}

// wrongType is the service's SerializationException message for a value
// of JSON kind found (bool, number, string, object, array) where a member
// of kind want is expected, or "" where this server has none.
func wrongType(found, want string) string {
	const (
		startMap  = "Start of structure or map found where not expected."
		startList = "Start of list found where not expected"
	)
	switch want {
	case "List":
		switch found {
		case "object":
			return startMap
		case "array":
			return ""
		}
		return "Expected list or null"
	case "Map":
		if found == "array" {
			return startList
		}
		return "Expected map or null"
	case "Structure":
		if found == "array" {
			return startList
		}
		return "Expected null"
	}
	switch found {
	case "object":
		return startMap
	case "array":
		return startList
	}
	article := "an"
	if want == "Blob" {
		article = "a"
	}
	switch found {
	case "bool":
		return "class java.lang.Boolean can not be converted to " + article + " " + want
	case "number":
		if want == "Integer" {
			return "" // a fraction: not an integer
		}
		return "class java.math.BigDecimal can not be converted to " + article + " " + want
	case "string":
		return "class java.lang.String can not be converted to " + article + " " + want
	}
	return ""
}

// streamedOutput is an output that writes its own response (the event
// stream of SubscribeToShard).
type streamedOutput interface {
	streamTo(w http.ResponseWriter, r *request)
}

// ServeHTTP answers one Kinesis API request: it finds the operation in
// the table and runs it (decode, check, call, encode).
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	id := s.requestID()
	h := w.Header()
	h.Set("x-amzn-RequestId", id)
	h.Set("x-amz-id-2", id)
	// The protocol layer answers in the service's order: CORS, the
	// method, an empty body, the content type, the operation, and only
	// then the authentication.
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
			h.Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
			return
		}
		h.Set("Access-Control-Expose-Headers", "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date")
	}
	if hr.Method != http.MethodPost {
		// /healthz is this server's own, for probes; the service has none.
		if hr.Method == http.MethodGet && hr.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "ok\n")
			return
		}
		writeXMLError(w, http.StatusForbidden, "AccessDeniedException", errNoOperationName)
		return
	}
	ct, _, _ := strings.Cut(hr.Header.Get("Content-Type"), ";")
	ct = strings.TrimSpace(ct)
	isCBOR := ct == ctCBOR
	target := hr.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, targetPrefix)
	op, known := operations[name]
	known = ok && known
	body, err := readBody(http.MaxBytesReader(w, hr.Body, s.opts.MaxBodyBytes), hr.ContentLength, s.opts.MaxBodyBytes)
	if err != nil {
		s.writeError(w, isCBOR, name, &apiError{code: codeSerialization, msg: errUnreadableRequest + err.Error()})
		return
	}
	if len(body) == 0 {
		// No body at all (not even {}): the service answers with the
		// error name alone, in JSON for its JSON content type and in CBOR
		// otherwise.
		code := codeSerialization
		if !known {
			code = codeUnknownOperation
		}
		s.writeError(w, ct != ctJSON, name, &apiError{code: code})
		return
	}
	if ct != ctJSON && ct != ctCBOR && ct != "application/json" {
		if target == "" || !strings.Contains(target, ".") {
			writeXMLError(w, http.StatusForbidden, "AccessDeniedException", errNoOperationName)
			return
		}
		writeXMLError(w, http.StatusNotFound, "UnknownOperationException", "")
		return
	}
	if !known {
		s.writeError(w, isCBOR, "", errUnknownOperation)
		return
	}
	principal, err := s.authenticate(hr, body)
	if err != nil {
		s.writeError(w, isCBOR, "", err)
		return
	}
	r := &request{ctx: hr.Context(), op: name, cbor: isCBOR, body: body, principal: principal}
	out, err := op.serve(s, r)
	if err != nil {
		s.writeError(w, isCBOR, name, err)
		return
	}
	if so, ok := out.(streamedOutput); ok {
		so.streamTo(w, r)
		return
	}
	s.writeResult(w, isCBOR, out)
	if rel, ok := out.(interface{ release() }); ok {
		rel.release()
	}
}

// readBody reads a request body, sized up front from Content-Length when
// the client sent one (so a 5 MiB PutRecords is one allocation, not a
// series of doublings).
func readBody(r io.Reader, contentLength, max int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > max {
		return io.ReadAll(r)
	}
	buf := make([]byte, contentLength+1)
	n, err := io.ReadFull(r, buf)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return buf[:n], nil
	case err != nil:
		return nil, err
	}
	// More than Content-Length: read the rest (net/http would not deliver
	// it, but be safe).
	rest, err := io.ReadAll(r)
	return append(buf, rest...), err
}

func (s *Server) requestID() string {
	var b [16]byte
	n := s.reqs.Add(1)
	rand.Read(b[:8])
	for i := 0; i < 8; i++ {
		b[8+i] = byte(n >> (8 * i))
	}
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// fastJSON is a result that encodes itself to JSON without reflection.
type fastJSON interface {
	appendJSON(b []byte) []byte
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (s *Server) writeResult(w http.ResponseWriter, isCBOR bool, out any) {
	if _, none := out.(empty); none {
		// An operation without output: the service sends no body at all.
		ct := ctJSON
		if isCBOR {
			ct = ctCBOR
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	if isCBOR {
		b, err := cborEnc.Marshal(out)
		if err != nil {
			s.writeError(w, true, "", fmt.Errorf("encode response: %w", err))
			return
		}
		w.Header().Set("Content-Type", ctCBOR)
		w.Write(b)
		return
	}
	w.Header().Set("Content-Type", ctJSON)
	if f, ok := out.(fastJSON); ok {
		bp := bufPool.Get().(*[]byte)
		b := f.appendJSON((*bp)[:0])
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b)
		if cap(b) <= 16<<20 {
			*bp = b[:0]
		}
		bufPool.Put(bp)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, false, "", fmt.Errorf("encode response: %w", err))
		return
	}
	w.Write(b)
}

type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message,omitempty"`
}

// serializationBody is the error body of a SerializationException, whose
// message the service keys "Message".
type serializationBody struct {
	Type    string `json:"__type"`
	Message string `json:"Message,omitempty"`
}

// writeError answers err as Kinesis does: the error name in "__type" and
// X-Amzn-ErrorType, the service's message, and the status that goes with
// them. op is the operation (for the messages that name it).
func (s *Server) writeError(w http.ResponseWriter, isCBOR bool, op string, err error) {
	code, msg, internal := s.answer(op, err)
	if internal {
		s.logInternal(err)
	}
	var body any = errorBody{Type: string(code), Message: msg}
	if code == codeSerialization {
		body = serializationBody{Type: string(code), Message: msg}
	}
	var b []byte
	if isCBOR {
		w.Header().Set("Content-Type", ctCBOR)
		b, _ = cborEnc.Marshal(body)
	} else {
		w.Header().Set("Content-Type", ctJSON)
		b, _ = json.Marshal(body)
	}
	w.Header().Set("X-Amzn-ErrorType", string(code))
	w.WriteHeader(statusOf(code))
	w.Write(b)
}

// writeXMLError answers as the service's front end does for a request it
// cannot route (a method other than POST, an unknown content type): an
// XML body, <Name/> when there is no message.
func writeXMLError(w http.ResponseWriter, status int, name, msg string) {
	body := "<" + name + "/>\n"
	if msg != "" {
		body = "<" + name + ">\n  <Message>" + msg + "</Message>\n</" + name + ">\n"
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (s *Server) logInternal(err error) {
	if s.opts.ErrorLog != nil {
		s.opts.ErrorLog("kinesisapi: internal error: %v", err)
	}
}
