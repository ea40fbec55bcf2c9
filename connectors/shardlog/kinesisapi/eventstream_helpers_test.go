package kinesisapi

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// decodeEventMessage parses one event stream message from b with the
// SDK's decoder (for tests and fuzzing): its string headers, payload and
// the rest of b.
func decodeEventMessage(b []byte) (map[string]string, []byte, []byte, error) {
	r := bytes.NewReader(b)
	m, err := eventstream.NewDecoder().Decode(r, nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eventstream: %w", err)
	}
	hs := map[string]string{}
	for _, h := range m.Headers {
		v, ok := h.Value.(eventstream.StringValue)
		if !ok {
			return nil, nil, nil, errors.New("eventstream: header " + h.Name + " is not a string")
		}
		hs[h.Name] = string(v)
	}
	return hs, m.Payload, b[len(b)-r.Len():], nil
}

// encodeEventMessage frames one message with the SDK's encoder, as the
// server does.
func encodeEventMessage(headers eventstream.Headers, payload []byte) []byte {
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, eventstream.Message{Headers: headers, Payload: payload}); err != nil {
		panic(err) // a bytes.Buffer does not fail
	}
	return buf.Bytes()
}
