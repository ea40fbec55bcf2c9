package kinesisapi

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// epochTime is a Kinesis timestamp: epoch seconds (a JSON number with
// millisecond decimals) in JSON, epoch milliseconds (tag 1, integer) in
// CBOR, as the Java SDK reads and writes them.
type epochTime struct {
	time.Time
}

func (t epochTime) MarshalJSON() ([]byte, error) {
	return appendEpochSeconds(nil, t.Time), nil
}

func appendEpochSeconds(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	b = strconv.AppendInt(b, ms/1000, 10)
	if r := ms % 1000; r != 0 {
		b = append(b, '.')
		b = append(b, byte('0'+r/100), byte('0'+r/10%10), byte('0'+r%10))
	}
	return b
}

func (t *epochTime) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		// ISO 8601 strings are accepted too (the AWS CLI sends a number).
		var s string
		if json.Unmarshal(b, &s) == nil {
			if tt, err := time.Parse(time.RFC3339Nano, s); err == nil {
				t.Time = tt
				return nil
			}
		}
		return fmt.Errorf("timestamp must be a number of epoch seconds")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return fmt.Errorf("timestamp %v out of range", f)
	}
	t.Time = time.UnixMilli(int64(math.Round(f * 1000)))
	return nil
}

func (t epochTime) MarshalCBOR() ([]byte, error) {
	return cbor.Marshal(cbor.Tag{Number: 1, Content: t.UnixMilli()})
}

func (t *epochTime) UnmarshalCBOR(b []byte) error {
	var raw cbor.RawTag
	var v any
	if err := cbor.Unmarshal(b, &raw); err == nil {
		if err := cbor.Unmarshal(raw.Content, &v); err != nil {
			return err
		}
	} else if err := cbor.Unmarshal(b, &v); err != nil {
		return err
	}
	var ms float64
	switch x := v.(type) {
	case uint64:
		ms = float64(x)
	case int64:
		ms = float64(x)
	case float64:
		ms = x
	case float32:
		ms = float64(x)
	default:
		return fmt.Errorf("timestamp must be a number of epoch milliseconds, got %T", v)
	}
	if math.IsNaN(ms) || ms < 0 || ms > 1e14 {
		return fmt.Errorf("timestamp %v out of range", ms)
	}
	t.Time = time.UnixMilli(int64(ms))
	return nil
}

var (
	cborDec cbor.DecMode
	cborEnc cbor.EncMode
)

func init() {
	var err error
	cborDec, err = cbor.DecOptions{
		MaxNestedLevels:  32,
		MaxArrayElements: 100000,
		MaxMapPairs:      100000,
		DupMapKey:        cbor.DupMapKeyQuiet,
	}.DecMode()
	if err != nil {
		panic(err) // static options
	}
	cborEnc, err = cbor.EncOptions{}.EncMode()
	if err != nil {
		panic(err)
	}
}
