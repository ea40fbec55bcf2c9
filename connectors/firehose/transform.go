package firehose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// TransformEvent is the Lambda event Firehose sends to a transform.
type TransformEvent struct {
	InvocationID      string                 `json:"invocationId"`
	DeliveryStreamArn string                 `json:"deliveryStreamArn"`
	Region            string                 `json:"region"`
	Records           []TransformEventRecord `json:"records"`
}

// TransformEventRecord is one record of a TransformEvent. Data is base64
// in JSON.
type TransformEventRecord struct {
	RecordID                    string          `json:"recordId"`
	ApproximateArrivalTimestamp int64           `json:"approximateArrivalTimestamp"`
	Data                        []byte          `json:"data"`
	KinesisRecordMetadata       *RecordMetadata `json:"kinesisRecordMetadata,omitempty"`
}

// RecordMetadata carries a stream source's metadata, as Firehose does for
// a Kinesis source.
type RecordMetadata struct {
	ShardID                     string `json:"shardId,omitempty"`
	PartitionKey                string `json:"partitionKey"`
	SequenceNumber              string `json:"sequenceNumber"`
	ApproximateArrivalTimestamp int64  `json:"approximateArrivalTimestamp"`
	// SubsequenceNumber is present for a user record of a KPL aggregate.
	SubsequenceNumber *uint64 `json:"subsequenceNumber,omitempty"`
}

// Transform results.
const (
	ResultOk               = "Ok"
	ResultDropped          = "Dropped"
	ResultProcessingFailed = "ProcessingFailed"
)

// TransformResponse is the Lambda response.
type TransformResponse struct {
	Records []TransformResult `json:"records"`
}

// TransformResult answers one recordId.
type TransformResult struct {
	RecordID string             `json:"recordId"`
	Result   string             `json:"result"`
	Data     []byte             `json:"data,omitempty"`
	Metadata *TransformMetadata `json:"metadata,omitempty"`
}

// TransformMetadata carries partitionKeyFromLambda values.
type TransformMetadata struct {
	PartitionKeys map[string]string `json:"partitionKeys,omitempty"`
}

// TransformFunc is a transform written in Go. An error means the
// invocation failed (it is retried); per-record failures are
// ProcessingFailed results.
type TransformFunc func(ctx context.Context, ev *TransformEvent) (*TransformResponse, error)

// httpTransform calls a Lambda-compatible HTTP endpoint: the event is the
// POST body, the response body is the Lambda response. Any status other
// than 200 is an invocation failure.
func httpTransform(client *http.Client, url string) TransformFunc {
	return func(ctx context.Context, ev *TransformEvent) (*TransformResponse, error) {
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("firehose: transform invocation: %w", err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return nil, fmt.Errorf("firehose: transform response: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("firehose: transform endpoint answered %s: %.200s", resp.Status, data)
		}
		var out TransformResponse
		if err := json.Unmarshal(data, &out); err != nil {
			return nil, &jsonResponseError{err}
		}
		return &out, nil
	}
}

type jsonResponseError struct{ err error }

func (e *jsonResponseError) Error() string {
	return "firehose: transform response is not valid JSON: " + e.err.Error()
}
func (e *jsonResponseError) Unwrap() error { return e.err }

// transformed is a record after the transform.
type transformed struct {
	rec        Record
	lambdaKeys map[string]string
}

// applyTransform runs one invocation (with retries) over recs and sorts
// the results into delivered records and failures.
func (s *Stream) applyTransform(ctx context.Context, recs []Record) ([]transformed, []failure, error) {
	p := s.cfg.Processing
	s.invocations++
	ev := &TransformEvent{
		InvocationID:      fmt.Sprintf("%s-%d", s.runID, s.invocations),
		DeliveryStreamArn: s.arn,
		Region:            s.cfg.Region,
		Records:           make([]TransformEventRecord, len(recs)),
	}
	byID := make(map[string]int, len(recs))
	for i, r := range recs {
		id := fmt.Sprintf("%s-%d-%d", s.runID, s.invocations, i)
		byID[id] = i
		ev.Records[i] = TransformEventRecord{RecordID: id, ApproximateArrivalTimestamp: r.ArrivalTime.UnixMilli(), Data: r.Data}
		if r.PartitionKey != "" || r.SequenceNumber != "" {
			ev.Records[i].KinesisRecordMetadata = &RecordMetadata{ShardID: r.ShardID, PartitionKey: r.PartitionKey, SequenceNumber: r.SequenceNumber,
				ApproximateArrivalTimestamp: r.ArrivalTime.UnixMilli()}
			if r.Aggregated {
				sub := r.SubSequenceNumber
				ev.Records[i].KinesisRecordMetadata.SubsequenceNumber = &sub
			}
		}
	}
	var resp *TransformResponse
	var err error
	attempts := 0
	for attempts <= *p.NumberOfRetries {
		attempts++
		resp, err = s.deps.Transform(ctx, ev)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}
	now := s.now()
	fail := func(r Record, code, msg string) failure {
		return failure{rec: r, typ: "processing-failed", code: code, msg: msg, attempts: attempts, ended: now}
	}
	var out []transformed
	var failed []failure
	if err != nil {
		code := CodeLambdaFunctionError
		var je *jsonResponseError
		if errors.As(err, &je) {
			code = CodeLambdaJSONError
		}
		for _, r := range recs {
			failed = append(failed, fail(r, code, err.Error()))
		}
		return nil, failed, nil
	}
	// Count answers first: a record answered twice fails as a whole, even
	// if one of the answers was Ok.
	count := make([]int, len(recs))
	for _, res := range resp.Records {
		if i, ok := byID[res.RecordID]; ok {
			count[i]++
		}
	}
	for i, n := range count {
		switch {
		case n == 0:
			failed = append(failed, fail(recs[i], CodeLambdaMissingRecordID, "the transform did not answer recordId "+ev.Records[i].RecordID))
		case n > 1:
			failed = append(failed, fail(recs[i], CodeLambdaDuplicatedRecordID, "the transform answered recordId "+ev.Records[i].RecordID+" more than once"))
		}
	}
	for _, res := range resp.Records {
		i, ok := byID[res.RecordID]
		if !ok || count[i] != 1 {
			continue // ids we never sent leave their record unanswered (reported above)
		}
		switch res.Result {
		case ResultOk:
			r := recs[i]
			r.Data = res.Data
			t := transformed{rec: r}
			if res.Metadata != nil {
				t.lambdaKeys = res.Metadata.PartitionKeys
			}
			out = append(out, t)
		case ResultDropped:
		case ResultProcessingFailed:
			failed = append(failed, fail(recs[i], CodeLambdaProcessingFailed, "the transform returned ProcessingFailed"))
		default:
			failed = append(failed, fail(recs[i], CodeLambdaInvalidStatus, fmt.Sprintf("invalid result %q for recordId %s (want Ok, Dropped or ProcessingFailed)", res.Result, res.RecordID)))
		}
	}
	return out, failed, nil
}
