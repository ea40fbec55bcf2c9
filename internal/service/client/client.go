// Package client is a small Go client of `sluice serve`'s REST API
// (/v1/jobs and the rest, docs/service.md), used by `sluice job`.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluicehq/sluice/internal/service"
)

// Client calls one service.
type Client struct {
	// Base is the service's URL, e.g. http://127.0.0.1:4567.
	Base string
	// HTTP is the client used (nil: http.DefaultClient).
	HTTP *http.Client
}

// New returns a client of the service at base.
func New(base string) *Client { return &Client{Base: strings.TrimRight(base, "/")} }

// Error is an error answer of the API.
type Error struct {
	Status int
	service.APIError
}

func (e *Error) Error() string {
	s := e.Message
	if e.Field != "" {
		s = e.Field + ": " + s
	}
	return fmt.Sprintf("%s (%s, HTTP %d)", s, e.Code, e.Status)
}

// do sends a request with body (JSON when not nil) and decodes the
// answer into out.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error service.APIError `json:"error"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" {
			return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
		}
		return &Error{Status: resp.StatusCode, APIError: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// Submit submits a job.
func (c *Client) Submit(ctx context.Context, spec service.JobSpec) (service.JobView, error) {
	var v service.JobView
	return v, c.do(ctx, http.MethodPost, "/v1/jobs", spec, &v)
}

// Jobs lists the jobs.
func (c *Client) Jobs(ctx context.Context) ([]service.JobSummary, error) {
	var v struct {
		Jobs []service.JobSummary `json:"jobs"`
	}
	return v.Jobs, c.do(ctx, http.MethodGet, "/v1/jobs", nil, &v)
}

// Job shows one job.
func (c *Client) Job(ctx context.Context, id string) (service.JobView, error) {
	var v service.JobView
	return v, c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), nil, &v)
}

// Stop stops a job, after a savepoint when savepoint is set.
func (c *Client) Stop(ctx context.Context, id string, savepoint bool) (service.JobView, error) {
	var v service.JobView
	return v, c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/stop", map[string]bool{"savepoint": savepoint}, &v)
}

// Savepoint takes a savepoint of a running job.
func (c *Client) Savepoint(ctx context.Context, id string) (service.JobSavepoint, error) {
	var v service.JobSavepoint
	return v, c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/savepoint", nil, &v)
}

// Resume starts a stopped or failed job again: from the savepoint from,
// or ("") the savepoint it was stopped with, else its latest checkpoint.
func (c *Client) Resume(ctx context.Context, id, from string) (service.JobView, error) {
	var v service.JobView
	body := map[string]string{}
	if from != "" {
		body["from"] = from
	}
	return v, c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/resume", body, &v)
}

// Get decodes any GET path of the API into out.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}
