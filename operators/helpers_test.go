package operators

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/state"
)

// ev is the record of the tests: a key, a value, and for joins the side
// it comes from ('L' or 'R').
type ev struct {
	Key  string
	Val  int64
	Side byte
}

func (e ev) String() string {
	if e.Side != 0 {
		return fmt.Sprintf("%c:%s/%d", e.Side, e.Key, e.Val)
	}
	return fmt.Sprintf("%s/%d", e.Key, e.Val)
}

var evCodec = state.FuncCodec[ev]{
	AppendFunc: func(dst []byte, e ev) []byte {
		dst = binary.AppendUvarint(dst, uint64(len(e.Key)))
		dst = append(dst, e.Key...)
		dst = binary.AppendVarint(dst, e.Val)
		return append(dst, e.Side)
	},
	DecodeFunc: func(src []byte) (ev, error) {
		n, k := binary.Uvarint(src)
		if k <= 0 || uint64(len(src)-k) < n {
			return ev{}, state.ErrCorrupt
		}
		e := ev{Key: string(src[k : k+int(n)])}
		src = src[k+int(n):]
		v, k := binary.Varint(src)
		if k <= 0 || len(src) != k+1 {
			return ev{}, state.ErrCorrupt
		}
		e.Val, e.Side = v, src[k]
		return e, nil
	},
}

func keyOfEv(e ev) string { return e.Key }

// testJob returns a keyed stream of ev in a throwaway job, for building
// operators outside a job.
func testKeyed() *engine.KeyedStream[ev, string] {
	j := engine.NewJob("test", engine.Config{})
	src := engine.FromSlice(j, "src", []ev{}, engine.WatermarkStrategy[ev]{})
	return engine.KeyBy(src, keyOfEv)
}

func seedFrom(t *testing.T) uint64 { return testseed.Seed(t) }

func fmtTime(ts int64) string {
	switch ts {
	case engine.MaxTime:
		return "max"
	case engine.MinTime:
		return "none"
	}
	return strconv.FormatInt(ts, 10)
}

func parseTime(s string) (int64, error) {
	switch s {
	case "max":
		return engine.MaxTime, nil
	case "none":
		return engine.NoTimestamp, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

func fmtWindow(w TimeWindow) string {
	if w.Start == engine.MinTime && w.End == engine.MaxTime {
		return "global"
	}
	return w.String()
}

// sortedLines sorts the lines of s (for comparing output whose order
// across keys is the engine's business).
func sortedLines(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func joinLines(s []string) string { return strings.Join(s, "\n") }

var clickCodec = state.FuncCodec[click]{
	AppendFunc: func(dst []byte, c click) []byte {
		dst = binary.AppendUvarint(dst, uint64(len(c.User)))
		dst = append(dst, c.User...)
		dst = binary.AppendVarint(dst, c.TS)
		return binary.AppendVarint(dst, c.Val)
	},
	DecodeFunc: func(src []byte) (click, error) {
		n, k := binary.Uvarint(src)
		if k <= 0 || uint64(len(src)-k) < n {
			return click{}, state.ErrCorrupt
		}
		c := click{User: string(src[k : k+int(n)])}
		src = src[k+int(n):]
		ts, k := binary.Varint(src)
		if k <= 0 {
			return click{}, state.ErrCorrupt
		}
		v, k2 := binary.Varint(src[k:])
		if k2 <= 0 || len(src) != k+k2 {
			return click{}, state.ErrCorrupt
		}
		c.TS, c.Val = ts, v
		return c, nil
	},
}

var rcInt = state.MustCodecFor[int64]()
