package trigger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// Invoker calls a function with one event and returns its response.
//
// An error that is a *FunctionError is the function's own failure (Lambda's
// "during invocation" errors): it counts against MaximumRetryAttempts and
// may bisect the batch. Any other error means the function could not be
// invoked (throttled, unreachable: Lambda's "before invocation" errors): the
// batch is retried, without counting, until its records pass
// MaximumRecordAgeInSeconds.
type Invoker interface {
	Invoke(ctx context.Context, event []byte) (response []byte, err error)
}

// FunctionError is a function's failure: an HTTP function that answered
// with an error status or the X-Amz-Function-Error header, a command that
// exited with a status other than 0, a call past the function's timeout.
type FunctionError struct {
	// StatusCode is the HTTP status of the answer (200 for a command).
	StatusCode int
	// Message says what failed: the status and the start of the body, the
	// exit status and the end of stderr, the timeout.
	Message string
}

func (e *FunctionError) Error() string { return "function error: " + e.Message }

// ThrottledError is an invocation that did not reach the function: HTTP
// 429, a connection that failed, a command that could not start.
type ThrottledError struct{ Err error }

func (e *ThrottledError) Error() string { return "function not invoked: " + e.Err.Error() }
func (e *ThrottledError) Unwrap() error { return e.Err }

// NewInvoker returns the invoker of f (a normalized Config's Function).
func NewInvoker(f Function) Invoker {
	timeout := time.Duration(DefaultFunctionTimeout) * time.Second
	if f.TimeoutSeconds != nil {
		timeout = time.Duration(*f.TimeoutSeconds) * time.Second
	}
	if f.URL != "" {
		// Every lane of every shard may call at once: keep a connection
		// for each rather than the default two per host.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 100
		return &HTTPFunction{URL: f.URL, Timeout: timeout, Client: &http.Client{Transport: tr}}
	}
	return &CommandFunction{Argv: f.Command, Dir: f.Dir, Timeout: timeout}
}

// HTTPFunction POSTs each event (application/json) to URL. A 2xx answer is
// the response unless it carries X-Amz-Function-Error (as Lambda's Invoke
// API marks a function error); 429 is a throttle; any other status is a
// function error.
type HTTPFunction struct {
	URL     string
	Timeout time.Duration
	// Client is the HTTP client; nil: http.DefaultClient.
	Client *http.Client
}

// Invoke implements Invoker.
func (f *HTTPFunction) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, f.URL, bytes.NewReader(event))
	if err != nil {
		return nil, &ThrottledError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	c := f.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
			return nil, &FunctionError{StatusCode: 200, Message: fmt.Sprintf("Task timed out after %.2f seconds", f.Timeout.Seconds())}
		}
		return nil, &ThrottledError{Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPayload+1))
	if err != nil {
		if ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
			return nil, &FunctionError{StatusCode: resp.StatusCode, Message: fmt.Sprintf("Task timed out after %.2f seconds", f.Timeout.Seconds())}
		}
		return nil, &ThrottledError{Err: fmt.Errorf("read response: %w", err)}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, &ThrottledError{Err: fmt.Errorf("%s answered %s", f.URL, resp.Status)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, &FunctionError{StatusCode: resp.StatusCode, Message: fmt.Sprintf("%s answered %s: %s", f.URL, resp.Status, excerpt(body))}
	case resp.Header.Get("X-Amz-Function-Error") != "":
		return nil, &FunctionError{StatusCode: resp.StatusCode, Message: fmt.Sprintf("%s: %s", resp.Header.Get("X-Amz-Function-Error"), excerpt(body))}
	case len(body) > maxPayload:
		return nil, &FunctionError{StatusCode: resp.StatusCode, Message: "the response is larger than 6 MB"}
	}
	return body, nil
}

// CommandFunction runs Argv for each event, the event on its stdin: exit
// status 0 makes stdout the response, any other status is a function error
// (with the end of stderr as its message).
type CommandFunction struct {
	Argv    []string
	Dir     string
	Timeout time.Duration
}

// Invoke implements Invoker.
func (f *CommandFunction) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, f.Argv[0], f.Argv[1:]...)
	cmd.Dir = f.Dir
	cmd.Stdin = bytes.NewReader(event)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return nil, &FunctionError{StatusCode: 200, Message: fmt.Sprintf("Task timed out after %.2f seconds", f.Timeout.Seconds())}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil, &FunctionError{StatusCode: 200, Message: fmt.Sprintf("%s: %v: %s", f.Argv[0], ee, tail(stderr.Bytes()))}
	}
	return nil, &ThrottledError{Err: fmt.Errorf("run %s: %w", f.Argv[0], err)}
}

func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 256 {
		s = s[:256] + "..."
	}
	return s
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 256 {
		s = "..." + s[len(s)-256:]
	}
	return s
}
