package videoapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/sluicehq/sluice/connectors/video"
)

// Client calls the media APIs that the AWS SDKs have no client for
// (PutMedia: no SDK streams its body) or none for Go here (GetMedia), signed
// with the SDK's SigV4 signer.
type Client struct {
	// Endpoint is the data endpoint (GetDataEndpoint's answer).
	Endpoint    string
	Region      string
	Credentials aws.Credentials
	HTTP        *http.Client

	once   sync.Once
	signer *v4.Signer
}

// sign signs req with the client's own signer: the SDK's signer caches
// derived keys by access key id, not secret, so two clients of one key id
// must not share one.
func (c *Client) sign(ctx context.Context, req *http.Request, payloadHash string) error {
	c.once.Do(func() { c.signer = v4.NewSigner() })
	return c.signer.SignHTTP(ctx, c.Credentials, req, payloadHash, SigningName, c.Region, time.Now())
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// PutMediaInput is PutMedia's request.
type PutMediaInput struct {
	StreamName, StreamARN string
	// TimecodeType is ABSOLUTE or RELATIVE.
	TimecodeType  string
	ProducerStart time.Time // RELATIVE: the producer's start (zero: not sent)
	Body          io.Reader // the Matroska stream, sent chunked as read
}

// PutMedia sends in.Body and calls onAck with each acknowledgement as it
// arrives. It returns when the server ends its answer (after the body's
// end, or after an ERROR), or an error naming the service's refusal.
func (c *Client) PutMedia(ctx context.Context, in PutMediaInput, onAck func(video.Ack)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Endpoint, "/")+"/putMedia", io.NopCloser(in.Body))
	if err != nil {
		return fmt.Errorf("videoapi: PutMedia request: %w", err)
	}
	req.ContentLength = -1 // chunked
	if in.StreamName != "" {
		req.Header.Set("x-amzn-stream-name", in.StreamName)
	}
	if in.StreamARN != "" {
		req.Header.Set("x-amzn-stream-arn", in.StreamARN)
	}
	req.Header.Set("x-amzn-fragment-timecode-type", in.TimecodeType)
	if !in.ProducerStart.IsZero() {
		ms := in.ProducerStart.UnixMilli()
		req.Header.Set("x-amzn-producer-start-timestamp", fmt.Sprintf("%d.%03d", ms/1000, ms%1000))
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := c.sign(ctx, req, "UNSIGNED-PAYLOAD"); err != nil {
		return fmt.Errorf("videoapi: sign PutMedia: %w", err)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("videoapi: PutMedia: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError("PutMedia", resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var a video.Ack
		if err := json.Unmarshal(line, &a); err != nil {
			return fmt.Errorf("videoapi: PutMedia acknowledgement %q: %w", line, err)
		}
		onAck(a)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("videoapi: PutMedia acknowledgements: %w", err)
	}
	return nil
}

// ServiceError is an error answer of the service.
type ServiceError struct {
	Status  int
	Code    string
	Message string
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
}

func responseError(op string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Message string `json:"Message"`
	}
	_ = json.Unmarshal(b, &body)
	return fmt.Errorf("videoapi: %s: %w", op, &ServiceError{Status: resp.StatusCode, Code: resp.Header.Get("X-Amzn-ErrorType"), Message: body.Message})
}

// GetMediaInput is GetMedia's request.
type GetMediaInput struct {
	StreamName, StreamARN string
	StartSelector         video.StartSelector
}

// GetMedia starts reading; the answer is the Matroska stream (close it to
// stop).
func (c *Client) GetMedia(ctx context.Context, in GetMediaInput) (io.ReadCloser, error) {
	sel := map[string]any{"StartSelectorType": in.StartSelector.Type}
	if in.StartSelector.AfterFragmentNumber != "" {
		sel["AfterFragmentNumber"] = in.StartSelector.AfterFragmentNumber
	}
	if in.StartSelector.ContinuationToken != "" {
		sel["ContinuationToken"] = in.StartSelector.ContinuationToken
	}
	if !in.StartSelector.StartTimestamp.IsZero() {
		sel["StartTimestamp"] = json.Number(strconv.FormatFloat(float64(in.StartSelector.StartTimestamp.UnixMilli())/1000, 'f', 3, 64))
	}
	body := map[string]any{"StartSelector": sel}
	if in.StreamName != "" {
		body["StreamName"] = in.StreamName
	}
	if in.StreamARN != "" {
		body["StreamARN"] = in.StreamARN
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("videoapi: GetMedia request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Endpoint, "/")+"/getMedia", bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("videoapi: GetMedia request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(b)
	if err := c.sign(ctx, req, hex.EncodeToString(sum[:])); err != nil {
		return nil, fmt.Errorf("videoapi: sign GetMedia: %w", err)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("videoapi: GetMedia: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, responseError("GetMedia", resp)
	}
	return resp.Body, nil
}
