package archive_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// authError is a refusal with the service's code, as a Verifier answers.
type authError struct{ code, msg string }

func (e *authError) Error() string        { return e.code + ": " + e.msg }
func (e *authError) ErrorCode() string    { return e.code }
func (e *authError) ErrorMessage() string { return e.msg }

// verifySigV4 is the tests' Verifier: it recomputes the request's SigV4
// signature with the SDK's signer over the headers the client signed, for
// the one test key. (The log server's Verify also wants X-Amz-Target
// signed, which the path-routed REST-JSON APIs never send.)
func verifySigV4(r *http.Request, body []byte) error {
	authz := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(authz, algo) {
		return &authError{"MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	parts := map[string]string{}
	for _, p := range strings.Split(strings.TrimPrefix(authz, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		parts[k] = v
	}
	cred := strings.Split(parts["Credential"], "/")
	if len(cred) != 5 || cred[0] != accessKey {
		return &authError{"UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	t, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return &authError{"InvalidSignatureException", "The request has no valid X-Amz-Date."}
	}
	req := &http.Request{Method: r.Method, URL: &url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}, Host: r.Host, Header: http.Header{}}
	for _, h := range strings.Split(parts["SignedHeaders"], ";") {
		switch h {
		case "host", "x-amz-date":
		case "content-length":
			req.ContentLength = int64(len(body))
		default:
			req.Header[h] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey},
		req, hex.EncodeToString(sum[:]), cred[3], cred[2], t); err != nil {
		return err
	}
	_, want, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	if !hmac.Equal([]byte(want), []byte(parts["Signature"])) {
		return &authError{"InvalidSignatureException", "The request signature we calculated does not match the signature you provided."}
	}
	return nil
}
