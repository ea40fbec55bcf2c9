package archive

import (
	"net/http"
	"sync"
	"time"
)

// tps are the service's request rate limits, in requests a second: per
// stream for the API calls, per session for the HLS resources.
var tps = map[string]int{
	"ListFragments":             10,
	"GetMediaForFragmentList":   5,
	"GetClip":                   5,
	"GetHLSStreamingSessionURL": 25,
	"GetHLSMasterPlaylist":      5,
	"GetHLSMediaPlaylist":       5,
	"GetMP4InitFragment":        5,
	"GetMP4MediaFragment":       20,
}

// limiter counts requests per operation and stream (or session) in
// one-second windows of the handler's clock.
type limiter struct {
	mu      sync.Mutex
	windows map[string]*window
}

type window struct {
	second int64
	n      int
}

func newLimiter() *limiter { return &limiter{windows: map[string]*window{}} }

// allow counts one request of op on key at now, and refuses it with
// ClientLimitExceededException past the limit.
func (l *limiter) allow(now time.Time, op, key string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	sec := now.Unix()
	if len(l.windows) > 10000 {
		for k, w := range l.windows {
			if w.second != sec {
				delete(l.windows, k)
			}
		}
	}
	k := op + "\x00" + key
	w := l.windows[k]
	if w == nil || w.second != sec {
		w = &window{second: sec}
		l.windows[k] = w
	}
	if w.n >= tps[op] {
		return &apiError{Code: "ClientLimitExceededException", Message: msgThrottled, Status: http.StatusBadRequest}
	}
	w.n++
	return nil
}
