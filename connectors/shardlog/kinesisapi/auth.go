package kinesisapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttpcreds "github.com/aws/smithy-go/aws-http-auth/credentials"
	"github.com/aws/smithy-go/aws-http-auth/sigv4"
	awshttpv4 "github.com/aws/smithy-go/aws-http-auth/v4"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// Authentication: every request's AWS Signature Version 4 is checked
// against the credentials the server was given. The expected signature
// is computed by the AWS SDK's own signer (aws/signer/v4) over a request
// rebuilt from the one received: its method, path and query, exactly the
// headers the client says it signed, and the SHA-256 of the body that
// arrived. Nothing of the algorithm is written again here; this file only
// parses what the client sent and words the refusals as the service does.
//
// Three modes (Options):
//
//   - Credentials set: every request must be signed by one of them, in the
//     Authorization header or in the query string (a presigned URL), within
//     the service's clock-skew window, and its principal's policy (if any)
//     must allow the operation on its resource (policy.go).
//   - AllowAnonymous: no authentication at all; signatures are not looked
//     at (the explicit opt-out, for local use).
//   - neither (the zero Options, for embedded and development use): a
//     request must carry a signature (an Authorization header or
//     X-Amz-Algorithm in the query), as real clients always do, but it is
//     not checked: any key is accepted — the behaviour of earlier versions
//     of this server.
//
// The JavaScript SDK v3 over HTTP/2 signs the :authority pseudo-header
// instead of host (SignedHeaders=:authority;amz-sdk-invocation-id;...,
// with no host), which the Go SDK's signer cannot reproduce: it always
// signs host. Such a request is checked with smithy-go's SigV4 signer
// (aws-http-auth/sigv4), told to sign exactly the headers the client
// listed, ":authority" being the host the HTTP/2 request named (r.Host).
//
// What neither signer can reproduce is refused as a bad signature: a
// request dated only by a Date header (both always sign X-Amz-Date) and a
// payload declared UNSIGNED-PAYLOAD (the body's hash is always checked).

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	sigService   = "kinesis"
	amzDateForm  = "20060102T150405Z"
	// skewWindow is how far a request's time may be from the server's, as
	// the service allows.
	skewWindow = 5 * time.Minute
	// maxPresignExpiry bounds X-Amz-Expires (seven days, as SigV4 allows).
	maxPresignExpiry = 7 * 24 * 3600
)

// The error names of authentication and authorization.
const (
	codeUnrecognizedClient  shardlog.ErrorCode = "UnrecognizedClientException"
	codeInvalidSignature    shardlog.ErrorCode = "InvalidSignatureException"
	codeIncompleteSignature shardlog.ErrorCode = "IncompleteSignatureException"
	codeAccessDenied        shardlog.ErrorCode = "AccessDeniedException"
)

var (
	errUnknownKey   = &apiError{codeUnrecognizedClient, "The security token included in the request is invalid."}
	errBadSignature = &apiError{codeInvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
)

// A Principal is one access key the server accepts and who holds it.
type Principal struct {
	// AccessKeyID and SecretAccessKey are the key pair (both required).
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	// SessionToken, when set, must come with every request signed by this
	// key (X-Amz-Security-Token), as with temporary credentials; when
	// empty, a request carrying a token is refused.
	SessionToken string `json:"SessionToken,omitempty"`
	// ARN names the principal in AccessDeniedException messages. Default
	// arn:aws:iam::<account>:user/<AccessKeyID>.
	ARN string `json:"Arn,omitempty"`
	// Policy, when set, is the principal's identity-based policy: what it
	// does not allow is denied. Without one the principal may do anything.
	Policy *Policy `json:"Policy,omitempty"`
}

// Credentials are the keys a Server accepts, by access key id.
type Credentials struct {
	byKey map[string]*Principal
}

// NewCredentials checks ps (keys present and distinct, policies valid) and
// returns them as a set. account is the one default ARNs name.
func NewCredentials(account string, ps []Principal) (*Credentials, error) {
	c := &Credentials{byKey: make(map[string]*Principal, len(ps))}
	for i := range ps {
		p := ps[i]
		switch {
		case p.AccessKeyID == "":
			return nil, fmt.Errorf("kinesisapi: credential %d has no AccessKeyId", i+1)
		case p.SecretAccessKey == "":
			return nil, fmt.Errorf("kinesisapi: credential %s has no SecretAccessKey", p.AccessKeyID)
		case strings.ContainsAny(p.AccessKeyID, "/ ,="):
			return nil, fmt.Errorf("kinesisapi: access key id %q may not contain '/', ',', '=' or spaces", p.AccessKeyID)
		case c.byKey[p.AccessKeyID] != nil:
			return nil, fmt.Errorf("kinesisapi: access key id %s is given twice", p.AccessKeyID)
		}
		if p.ARN == "" {
			p.ARN = "arn:aws:iam::" + account + ":user/" + p.AccessKeyID
		}
		if p.Policy != nil {
			if err := p.Policy.compile(); err != nil {
				return nil, fmt.Errorf("kinesisapi: policy of %s: %w", p.AccessKeyID, err)
			}
		}
		c.byKey[p.AccessKeyID] = &p
	}
	return c, nil
}

// credentialsFile is the JSON of a credentials file.
type credentialsFile struct {
	Credentials []Principal `json:"Credentials"`
}

// LoadCredentials reads a credentials file: a JSON object whose
// "Credentials" member lists principals —
//
//	{"Credentials": [
//	  {"AccessKeyId": "AKIA...", "SecretAccessKey": "...",
//	   "SessionToken": "...", "Arn": "arn:aws:iam::123456789012:user/alice",
//	   "Policy": {"Version": "2012-10-17", "Statement": [
//	     {"Effect": "Allow", "Action": "kinesis:*",
//	      "Resource": "arn:aws:kinesis:*:*:stream/app-*"}]}}]}
//
// SessionToken, Arn and Policy are optional. Unknown members are refused,
// so that a misspelt "Statment" does not silently allow everything.
func LoadCredentials(path, account string) (*Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kinesisapi: read credentials: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var f credentialsFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("kinesisapi: credentials file %s: %w", path, err)
	}
	if len(f.Credentials) == 0 {
		return nil, fmt.Errorf("kinesisapi: credentials file %s lists no credentials", path)
	}
	c, err := NewCredentials(account, f.Credentials)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	return c, nil
}

// sigParts is what a request says of its signature, from the
// Authorization header or from the query string.
type sigParts struct {
	presigned     bool
	keyID         string
	scopeDate     string
	region        string
	service       string
	terminator    string
	signedHeaders []string
	signature     string
	amzDate       string
	expires       int64 // presigned only; 0 when absent
	token         string
}

// authenticate answers who signed hr (nil in the modes without
// credentials) or the service's refusal.
func (s *Server) authenticate(hr *http.Request, body []byte) (*Principal, error) {
	return s.authenticateFor(hr, body, sigService)
}

// authenticateFor is authenticate for requests signed for service.
func (s *Server) authenticateFor(hr *http.Request, body []byte, service string) (*Principal, error) {
	return s.authenticatePayload(hr, body, service, false)
}

// unsignedPayload is the payload hash of a request whose body is streamed
// and not covered by the signature (X-Amz-Content-Sha256).
const unsignedPayload = "UNSIGNED-PAYLOAD"

// authenticatePayload is authenticateFor; unsigned: the body is not hashed,
// the request must declare (and sign) X-Amz-Content-Sha256:
// UNSIGNED-PAYLOAD instead.
func (s *Server) authenticatePayload(hr *http.Request, body []byte, service string, unsigned bool) (*Principal, error) {
	if s.opts.AllowAnonymous {
		return nil, nil
	}
	authz := hr.Header.Get("Authorization")
	query := hr.URL.Query()
	if authz == "" && query.Get("X-Amz-Algorithm") == "" {
		return nil, errMissingAuth
	}
	if s.opts.Credentials == nil {
		return nil, nil // development mode: signed, by anyone
	}
	var (
		sp  sigParts
		err error
	)
	if authz != "" {
		sp, err = parseAuthorization(authz, hr.Header)
	} else {
		sp, err = parsePresigned(query)
	}
	if err != nil {
		return nil, err
	}
	p := s.opts.Credentials.byKey[sp.keyID]
	if p == nil || subtle.ConstantTimeCompare([]byte(sp.token), []byte(p.SessionToken)) != 1 {
		return nil, errUnknownKey
	}
	// One date and one token: a second value the signature does not
	// cover must not ride along.
	if len(hr.Header.Values("X-Amz-Date")) > 1 || len(hr.Header.Values("X-Amz-Security-Token")) > 1 {
		return nil, errBadSignature
	}
	if err := s.checkScope(sp, service); err != nil {
		return nil, err
	}
	t, err := time.Parse(amzDateForm, sp.amzDate)
	if err != nil {
		// The form was checked by the parsers; a date that does not parse
		// is a signature that cannot match.
		return nil, errBadSignature
	}
	if err := s.checkTime(sp, t); err != nil {
		return nil, err
	}
	if !routingSigned(hr, sp) {
		return nil, errBadSignature
	}
	if unsigned && !signsUnsignedPayload(hr, sp) {
		return nil, errBadSignature
	}
	want, err := expectedSignature(hr, body, sp, p, t, unsigned)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal([]byte(want), []byte(sp.signature)) {
		return nil, errBadSignature
	}
	return p, nil
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=..." and the request's date, with the service's
// IncompleteSignatureException texts for what is missing.
func parseAuthorization(authz string, h http.Header) (sigParts, error) {
	sp := sigParts{}
	algo, rest, _ := strings.Cut(strings.TrimSpace(authz), " ")
	params := map[string]string{}
	if rest = strings.TrimSpace(rest); rest != "" {
		// The service reads the parameters as tokens between commas and
		// spaces.
		for _, part := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' }) {
			k, v, ok := strings.Cut(part, "=")
			if !ok {
				return sp, &apiError{codeIncompleteSignature, fmt.Sprintf("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, authz)}
			}
			if _, dup := params[k]; dup {
				return sp, errBadSignature
			}
			params[k] = v
		}
	}
	sp.amzDate = h.Get("X-Amz-Date")
	var missing []string
	for _, name := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[name] == "" {
			missing = append(missing, "Authorization header requires '"+name+"' parameter.")
		}
	}
	if sp.amzDate == "" && h.Get("Date") == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return sp, &apiError{codeIncompleteSignature, strings.Join(missing, " ") + " Authorization=" + authz}
	}
	if algo != sigAlgorithm {
		// Another scheme (SigV2, SigV4a, a bearer token) cannot match.
		return sp, errBadSignature
	}
	if err := sp.setCredential(params["Credential"]); err != nil {
		return sp, err
	}
	sp.signedHeaders = strings.Split(params["SignedHeaders"], ";")
	sp.signature = params["Signature"]
	sp.token = h.Get("X-Amz-Security-Token")
	return sp, nil
}

// parsePresigned reads the query-string form (X-Amz-Algorithm and the
// rest).
func parsePresigned(q url.Values) (sigParts, error) {
	sp := sigParts{presigned: true}
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		if q.Get(k) == "" {
			return sp, &apiError{codeIncompleteSignature, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."}
		}
	}
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Security-Token"} {
		if len(q[k]) > 1 {
			return sp, errBadSignature
		}
	}
	if q.Get("X-Amz-Algorithm") != sigAlgorithm {
		return sp, errBadSignature
	}
	if e := q.Get("X-Amz-Expires"); e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil || n < 1 || n > maxPresignExpiry {
			return sp, &apiError{codeIncompleteSignature, fmt.Sprintf("X-Amz-Expires must be a whole number of seconds from 1 to %d, not '%s'.", maxPresignExpiry, e)}
		}
		sp.expires = n
	}
	if err := sp.setCredential(q.Get("X-Amz-Credential")); err != nil {
		return sp, err
	}
	sp.signedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	sp.signature = q.Get("X-Amz-Signature")
	sp.amzDate = q.Get("X-Amz-Date")
	sp.token = q.Get("X-Amz-Security-Token")
	return sp, nil
}

// setCredential splits "KEY/20060102/region/service/aws4_request".
func (sp *sigParts) setCredential(cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return &apiError{codeIncompleteSignature, fmt.Sprintf("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred)}
	}
	sp.keyID, sp.scopeDate, sp.region, sp.service, sp.terminator = parts[0], parts[1], parts[2], parts[3], parts[4]
	return nil
}

// checkScope holds the credential scope to this server: its region, the
// kinesis service, the aws4_request terminator, and the request's date.
func (s *Server) checkScope(sp sigParts, service string) error {
	switch {
	case sp.region != s.region:
		return &apiError{codeInvalidSignature, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", sp.region)}
	case sp.service != service:
		return &apiError{codeInvalidSignature, "Credential should be scoped to correct service: '" + service + "'. "}
	case sp.terminator != "aws4_request":
		return &apiError{codeInvalidSignature, fmt.Sprintf("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ", sp.terminator)}
	case !strings.HasPrefix(sp.amzDate, sp.scopeDate) || len(sp.scopeDate) != 8:
		return &apiError{codeInvalidSignature, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%.8s', from '%s'.", sp.scopeDate, sp.amzDate, sp.amzDate)}
	}
	return nil
}

// checkTime holds the request's time to the service's window: 5 minutes
// either way of the server's clock, and for a presigned URL with
// X-Amz-Expires, until its expiry instead.
func (s *Server) checkTime(sp sigParts, t time.Time) error {
	now := s.now().UTC()
	f := func(t time.Time) string { return t.UTC().Format(amzDateForm) }
	if t.After(now.Add(skewWindow)) {
		return &apiError{codeInvalidSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)", f(t), f(now.Add(skewWindow)), f(now))}
	}
	if sp.presigned && sp.expires > 0 {
		if end := t.Add(time.Duration(sp.expires) * time.Second); now.After(end) {
			return &apiError{codeInvalidSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %d sec.)", f(t), f(now.Add(-time.Duration(sp.expires)*time.Second)), f(now), sp.expires)}
		}
		return nil
	}
	if t.Before(now.Add(-skewWindow)) {
		return &apiError{codeInvalidSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)", f(t), f(now.Add(-skewWindow)), f(now))}
	}
	return nil
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// routingSigned reports whether the headers the server routes a request by
// (X-Amz-Target, Content-Type) are covered by its signature: signed as
// headers, or, in a presigned URL, hoisted into the signed query with the
// value the header has. Otherwise a signature for one operation would
// serve for any other.
func routingSigned(hr *http.Request, sp sigParts) bool {
	for _, name := range []string{"X-Amz-Target", "Content-Type"} {
		if len(hr.Header.Values(name)) == 0 && !hr.URL.Query().Has(name) {
			continue // not sent at all, so not routed by (REST APIs have no target)
		}
		lower := strings.ToLower(name)
		signed := false
		for _, h := range sp.signedHeaders {
			if strings.ToLower(h) == lower {
				signed = true
				break
			}
		}
		if signed {
			continue
		}
		if !sp.presigned {
			return false
		}
		q := hr.URL.Query()
		if vs := hr.Header.Values(name); len(q[name]) != 1 || len(vs) != 1 || q.Get(name) != vs[0] {
			return false
		}
	}
	return true
}

// signer is the SDK's SigV4 signer. Presigned requests are rebuilt with
// exactly the headers they signed, so none is hoisted into the query.
var signer = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableHeaderHoisting = true })

// expectedSignature is the signature the SDK's signer makes for hr with
// p's secret: the request is rebuilt from its method, path, query, the
// headers sp names as signed and the hash of the body received.
func expectedSignature(hr *http.Request, body []byte, sp sigParts, p *Principal, t time.Time, unsigned bool) (string, error) {
	u := &url.URL{Path: hr.URL.Path, RawPath: hr.URL.RawPath}
	q := hr.URL.Query()
	if sp.presigned {
		q.Del("X-Amz-Signature")
	}
	u.RawQuery = q.Encode()
	req := &http.Request{Method: hr.Method, URL: u, Host: hr.Host, Header: http.Header{}}
	signsToken := false
	for _, name := range sp.signedHeaders {
		switch name = strings.ToLower(name); name {
		case "host":
		case "content-length":
			req.ContentLength = int64(len(body))
			if v := hr.Header.Get("Content-Length"); v != "" {
				// The signer writes the length in decimal: a value in
				// another form ("014") is not the one signed.
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || strconv.FormatInt(n, 10) != v || len(hr.Header.Values("Content-Length")) != 1 {
					return "", errBadSignature
				}
				req.ContentLength = n
			}
		case "x-amz-security-token":
			signsToken = true // the signer adds it from the credentials
		case "x-amz-date":
			// the signer adds it from the signing time
		default:
			// Under its lower-case name: the signer's list of headers it
			// never signs (User-Agent, Expect, ...) holds canonical names,
			// so a header the client did sign — the Java SDK v1 signs
			// User-Agent — is signed here too.
			if vs := hr.Header.Values(name); len(vs) > 0 {
				req.Header[name] = vs
			}
		}
	}
	sum := sha256.Sum256(body)
	if !sp.presigned && signsAuthority(sp) {
		if unsigned {
			return "", errBadSignature
		}
		return authoritySignature(hr, body, sum[:], sp, p, t)
	}
	payloadHash := hex.EncodeToString(sum[:])
	if unsigned {
		payloadHash = unsignedPayload
	}
	creds := aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey}
	ctx := context.Background()
	if sp.presigned {
		// A token in the query is part of the query the client signed.
		signed, _, err := signer.PresignHTTP(ctx, creds, req, payloadHash, sp.service, sp.region, t)
		if err != nil {
			return "", fmt.Errorf("kinesisapi: presign: %w", err)
		}
		su, err := url.Parse(signed)
		if err != nil {
			return "", fmt.Errorf("kinesisapi: presigned URL: %w", err)
		}
		// The signer sets the signing parameters itself (algorithm,
		// credential, date, signed headers): they must be what was sent,
		// or the signature is over another query than the one received.
		sq := su.Query()
		sig := sq.Get("X-Amz-Signature")
		sq.Del("X-Amz-Signature")
		if !reflect.DeepEqual(sq, q) {
			return "", errBadSignature
		}
		return sig, nil
	}
	if signsToken {
		creds.SessionToken = sp.token
	}
	err := signer.SignHTTP(ctx, creds, req, payloadHash, sp.service, sp.region, t, func(o *v4.SignerOptions) {
		o.DisableSessionToken = !signsToken
	})
	if err != nil {
		return "", fmt.Errorf("kinesisapi: sign: %w", err)
	}
	// Likewise the date and the list of signed headers the signer used
	// must be the ones sent.
	made := req.Header.Get("Authorization")
	_, sig, ok := strings.Cut(made, "Signature=")
	if !ok {
		return "", errors.New("kinesisapi: the signer made no signature")
	}
	if !strings.Contains(made, "SignedHeaders="+strings.Join(sp.signedHeaders, ";")+",") || req.Header.Get("X-Amz-Date") != sp.amzDate {
		return "", errBadSignature
	}
	return sig, nil
}

// AuthError is a refusal of Verify or Authorize: the error name and the
// message, as the AWS services answer them (status 400).
type AuthError struct{ Code, Message string }

func (e *AuthError) Error() string { return e.Code + ": " + e.Message }

func authError(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return &AuthError{Code: string(ae.code), Message: ae.msg}
	}
	return err
}

// Verify authenticates a request of another AWS API served beside this
// one with the same credentials and modes (the Firehose API of `sluice
// serve`): service is the signing name its clients scope signatures to
// ("firehose"). It answers who signed the request (nil without
// credentials) or an *AuthError, exactly as for Kinesis requests.
func (s *Server) Verify(hr *http.Request, body []byte, service string) (*Principal, error) {
	p, err := s.authenticateFor(hr, body, service)
	return p, authError(err)
}

// VerifyStreaming is Verify for a request whose body streams in as it is
// read (Kinesis Video's PutMedia): the signature does not cover the body,
// and the request must say so, signing X-Amz-Content-Sha256:
// UNSIGNED-PAYLOAD.
func (s *Server) VerifyStreaming(hr *http.Request, service string) (*Principal, error) {
	p, err := s.authenticatePayload(hr, nil, service, true)
	return p, authError(err)
}

// signsUnsignedPayload reports whether hr declares an unsigned payload
// and signs that declaration.
func signsUnsignedPayload(hr *http.Request, sp sigParts) bool {
	if hr.Header.Get("X-Amz-Content-Sha256") != unsignedPayload || len(hr.Header.Values("X-Amz-Content-Sha256")) != 1 {
		return false
	}
	for _, h := range sp.signedHeaders {
		if strings.EqualFold(h, "x-amz-content-sha256") {
			return true
		}
	}
	return false
}

// Authorize checks p's policy for action (e.g. "firehose:PutRecord") on
// resource (an ARN, or "*"), answering an *AuthError
// (AccessDeniedException) when it is not allowed. A nil principal or one
// without a policy may do everything.
func (s *Server) Authorize(p *Principal, action, resource string) error {
	if p == nil || p.Policy == nil {
		return nil
	}
	return authError(denial(p, action, resource))
}

// ErrorCode is the error's name (for servers that map errors by interface).
func (e *AuthError) ErrorCode() string { return e.Code }

// ErrorMessage is the service's message.
func (e *AuthError) ErrorMessage() string { return e.Message }

// signsAuthority reports whether sp signs the HTTP/2 :authority
// pseudo-header and not host, as the JavaScript SDK v3 does over HTTP/2.
func signsAuthority(sp sigParts) bool {
	authority := false
	for _, h := range sp.signedHeaders {
		switch strings.ToLower(h) {
		case "host":
			return false
		case ":authority":
			authority = true
		}
	}
	return authority
}

// signedSet is a SignedHeaderRules for smithy-go's signer: exactly the
// headers the client listed.
type signedSet map[string]bool

func (s signedSet) IsSigned(h string) bool { return s[h] }

// authoritySigner is smithy-go's SigV4 signer; the rules of what it signs
// are given per request.
var authoritySigner = sigv4.New()

// authoritySignature is the signature of a request that signed
// :authority instead of host, made by smithy-go's signer over a request
// rebuilt with exactly the headers sp lists: :authority is the host the
// request was sent to, which Go's HTTP/2 server keeps in r.Host (there is
// no such header over HTTP/1.1, so there the request cannot match).
func authoritySignature(hr *http.Request, body, payloadHash []byte, sp sigParts, p *Principal, t time.Time) (string, error) {
	if hr.ProtoMajor != 2 {
		return "", errBadSignature
	}
	u := &url.URL{Path: hr.URL.Path, RawPath: hr.URL.RawPath, RawQuery: hr.URL.RawQuery}
	req := &http.Request{Method: hr.Method, URL: u, Host: hr.Host, Header: http.Header{}}
	rules := signedSet{}
	creds := awshttpcreds.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey}
	for _, name := range sp.signedHeaders {
		name = strings.ToLower(name)
		rules[name] = true
		var vs []string
		switch name {
		case ":authority":
			vs = []string{hr.Host}
		case "content-length":
			vs = []string{strconv.Itoa(len(body))}
			if v := hr.Header.Get("Content-Length"); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || strconv.FormatInt(n, 10) != v || len(hr.Header.Values("Content-Length")) != 1 {
					return "", errBadSignature
				}
				vs = []string{v}
			}
		case "x-amz-security-token":
			creds.SessionToken = sp.token // the signer adds it from the credentials
			continue
		case "x-amz-date":
			continue // the signer adds it from the signing time
		default:
			vs = hr.Header.Values(name)
		}
		// The client signed each value with its runs of white space made
		// one space (the JavaScript SDK's canonical form); smithy-go's
		// signer only trims the ends.
		for _, v := range vs {
			req.Header[name] = append(req.Header[name], strings.Join(strings.Fields(v), " "))
		}
	}
	err := authoritySigner.SignRequest(&sigv4.SignRequestInput{
		Request:     req,
		PayloadHash: payloadHash,
		Credentials: creds,
		Service:     sp.service,
		Region:      sp.region,
		Time:        t,
	}, func(o *awshttpv4.SignerOptions) { o.HeaderRules = rules })
	if err != nil {
		return "", fmt.Errorf("kinesisapi: sign: %w", err)
	}
	made := req.Header.Get("Authorization")
	_, sig, ok := strings.Cut(made, "Signature=")
	if !ok {
		return "", errors.New("kinesisapi: the signer made no signature")
	}
	// A header listed as signed but not sent is left out by the signer:
	// the list it signed must be the one the client sent.
	if !strings.Contains(made, "SignedHeaders="+strings.Join(sp.signedHeaders, ";")+",") || req.Header.Get("X-Amz-Date") != sp.amzDate {
		return "", errBadSignature
	}
	return sig, nil
}
