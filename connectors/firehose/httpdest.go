package firehose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// HTTPRequest is the body of Firehose's HTTP endpoint delivery request.
type HTTPRequest struct {
	RequestID string              `json:"requestId"`
	Timestamp int64               `json:"timestamp"`
	Records   []HTTPRequestRecord `json:"records"`
}

// HTTPRequestRecord carries one record; Data is base64 in JSON.
type HTTPRequestRecord struct {
	Data []byte `json:"data"`
}

// HTTPResponse is the body an endpoint answers with.
type HTTPResponse struct {
	RequestID    string `json:"requestId"`
	Timestamp    int64  `json:"timestamp"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// HTTP endpoint protocol headers.
const (
	HeaderProtocolVersion  = "X-Amz-Firehose-Protocol-Version"
	HeaderRequestID        = "X-Amz-Firehose-Request-Id"
	HeaderSourceArn        = "X-Amz-Firehose-Source-Arn"
	HeaderAccessKey        = "X-Amz-Firehose-Access-Key"
	HeaderCommonAttributes = "X-Amz-Firehose-Common-Attributes"
)

type httpEndpoint struct {
	cfg    HTTPEndpointConfig
	client *http.Client
	arn    string
}

// send delivers one request. Only a 200 answer whose JSON body echoes the
// requestId is a success, as Firehose requires.
func (h *httpEndpoint) send(ctx context.Context, requestID string, recs []Record, now time.Time) error {
	req := HTTPRequest{RequestID: requestID, Timestamp: now.UnixMilli(), Records: make([]HTTPRequestRecord, len(recs))}
	for i, r := range recs {
		req.Records[i].Data = r.Data
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	gz := strings.EqualFold(h.cfg.ContentEncoding, "GZIP")
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		if err := zw.Close(); err != nil {
			return err
		}
		body = buf.Bytes()
	}
	timeout := time.Duration(h.cfg.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = 180 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(HeaderProtocolVersion, "1.0")
	hr.Header.Set(HeaderRequestID, requestID)
	hr.Header.Set(HeaderSourceArn, h.arn)
	if gz {
		hr.Header.Set("Content-Encoding", "gzip")
	}
	if h.cfg.AccessKey != "" {
		hr.Header.Set(HeaderAccessKey, h.cfg.AccessKey)
	}
	if len(h.cfg.CommonAttributes) > 0 {
		ca, _ := json.Marshal(map[string]map[string]string{"commonAttributes": h.cfg.CommonAttributes})
		hr.Header.Set(HeaderCommonAttributes, string(ca))
	}
	resp, err := h.client.Do(hr)
	if err != nil {
		return fmt.Errorf("firehose: http endpoint: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var r HTTPResponse
	jerr := json.Unmarshal(data, &r)
	if resp.StatusCode != http.StatusOK {
		msg := r.ErrorMessage
		if jerr != nil || msg == "" {
			msg = string(data)
		}
		return fmt.Errorf("firehose: http endpoint answered %d: %.300s", resp.StatusCode, msg)
	}
	if jerr != nil {
		return fmt.Errorf("firehose: http endpoint response is not JSON: %w", jerr)
	}
	if r.RequestID != requestID {
		return fmt.Errorf("firehose: http endpoint answered requestId %q, want %q", r.RequestID, requestID)
	}
	return nil
}
