package kinesisapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// TestWireScript runs Kinesis requests over HTTP against a server on a log
// with a manual clock, and checks every answer: the status, the error name
// and the exact message, or the response body (testdata/script/*.txt;
// rewrite with -rewrite). The expected answers were first recorded from
// the server as it was before the log was split into the log, this wire
// server and the engine connectors, so that every service message the
// clients see is kept to the letter. Commands:
//
//	open [limits] [status-delay=D] [shard-limit=N] [on-demand-limit=N]
//	     [heartbeat=D] [iterator-ttl=D]         (a fresh log and server)
//	call OP [times=N] [as=NAME]
//	                         the input is the JSON body; <<...>> expands:
//	                         <<bytes N>> base64 of N zero bytes,
//	                         <<str N C>> C repeated N times,
//	                         <<repeat N TEXT>> TEXT N times, comma-separated,
//	                         each # in it the repeat's number,
//	                         <<i>> the call's number (with times=N),
//	                         <<NAME>> a token an earlier answer printed
//	advance d=D
//	subscribe id=X           SubscribeToShard: prints the first two messages
//	next id=X                the next message of subscription X
//	close id=X
//
// An answer's tokens (shard iterators, next tokens) are printed as <NAME>
// (the first token of a call with as=NAME) or <itN> and <tokN>, and
// can be sent back as <<NAME>>.
func TestWireScript(t *testing.T) {
	datadriven.Walk(t, "testdata/script", func(t *testing.T, path string) {
		w := &wireScript{t: t}
		defer w.closeAll()
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			return w.run(td)
		})
	})
}

var scriptT0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

type wireScript struct {
	t      *testing.T
	l      *shardlog.Log
	clock  *shardlog.ManualClock
	srv    *httptest.Server
	tokens map[string]string // <itN> -> token
	byTok  map[string]string // token -> <itN>
	as     string            // the name for the next new token
	subs   map[string]*scriptSub
}

type scriptSub struct {
	cancel context.CancelFunc
	msgs   chan string
}

func (w *wireScript) closeAll() {
	for _, s := range w.subs {
		s.cancel()
	}
	w.subs = nil
	if w.srv != nil {
		w.srv.Close()
		w.l.Close()
		w.srv = nil
	}
}

func (w *wireScript) run(td *datadriven.TestData) string {
	t := w.t
	arg := func(k string) (string, bool) {
		for _, a := range td.CmdArgs {
			if a.Key == k {
				if len(a.Vals) == 0 {
					return "", true
				}
				return a.Vals[0], true
			}
		}
		return "", false
	}
	dur := func(k string) time.Duration {
		s, _ := arg(k)
		d, err := time.ParseDuration(s)
		if err != nil {
			td.Fatalf(t, "%s: %v", k, err)
		}
		return d
	}
	switch td.Cmd {
	case "open":
		w.closeAll()
		w.clock = shardlog.NewManualClock(scriptT0)
		opts := shardlog.Options{Dir: t.TempDir(), Clock: w.clock, RetentionInterval: -1, Sync: shardlog.SyncNone}
		if _, ok := arg("limits"); ok {
			opts.Limits = &shardlog.KinesisLimits
		}
		if _, ok := arg("status-delay"); ok {
			opts.StatusDelay = dur("status-delay")
		}
		if _, ok := arg("heartbeat"); ok {
			opts.HeartbeatInterval = dur("heartbeat")
		}
		if _, ok := arg("iterator-ttl"); ok {
			opts.IteratorTTL = dur("iterator-ttl")
		}
		if s, ok := arg("shard-limit"); ok {
			opts.ShardLimit, _ = strconv.Atoi(s)
		}
		if s, ok := arg("on-demand-limit"); ok {
			opts.OnDemandStreamLimit, _ = strconv.Atoi(s)
		}
		l, err := shardlog.Open(opts)
		if err != nil {
			td.Fatalf(t, "%v", err)
		}
		w.l = l
		w.srv = httptest.NewServer(New(l, Options{}))
		w.tokens, w.byTok, w.subs = map[string]string{}, map[string]string{}, map[string]*scriptSub{}
		return "ok\n"
	case "advance":
		w.clock.Advance(dur("d"))
		return fmt.Sprintf("now +%s\n", w.clock.Now().Sub(scriptT0))
	case "call":
		op := td.CmdArgs[0].Key
		n := 1
		if s, ok := arg("times"); ok {
			n, _ = strconv.Atoi(s)
		}
		var out string
		w.as, _ = arg("as")
		for i := 1; i <= n; i++ {
			body := w.expand(td, strings.TrimSpace(td.Input), i)
			resp := w.post(op, body, context.Background())
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out = w.answer(resp, b)
		}
		if n > 1 {
			return fmt.Sprintf("(%d calls) last: %s", n, out)
		}
		return out
	case "subscribe":
		id, _ := arg("id")
		ctx, cancel := context.WithCancel(context.Background())
		resp := w.post("SubscribeToShard", w.expand(td, strings.TrimSpace(td.Input), 1), ctx)
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			cancel()
			return w.answer(resp, b)
		}
		s := &scriptSub{cancel: cancel, msgs: make(chan string, 16)}
		w.subs[id] = s
		go func() {
			defer close(s.msgs)
			defer resp.Body.Close()
			var buf []byte
			chunk := make([]byte, 64<<10)
			for {
				n, err := resp.Body.Read(chunk)
				buf = append(buf, chunk[:n]...)
				for {
					h, p, rest, err := decodeEventMessage(buf)
					if err != nil {
						break
					}
					kind := h[":event-type"]
					if kind == "" {
						kind = "exception " + h[":exception-type"]
					}
					s.msgs <- kind + " " + w.normalize(p)
					buf = rest
				}
				if err != nil {
					return
				}
			}
		}()
		return w.nextMsg(s) + w.nextMsg(s)
	case "next":
		id, _ := arg("id")
		return w.nextMsg(w.subs[id])
	case "close":
		id, _ := arg("id")
		w.subs[id].cancel()
		delete(w.subs, id)
		return "ok\n"
	}
	td.Fatalf(t, "unknown command %s", td.Cmd)
	return ""
}

func (w *wireScript) nextMsg(s *scriptSub) string {
	select {
	case m, ok := <-s.msgs:
		if !ok {
			return "end of stream\n"
		}
		return m + "\n"
	case <-time.After(10 * time.Second):
		return "no message within 10s\n"
	}
}

func (w *wireScript) post(op, body string, ctx context.Context) *http.Response {
	req, _ := http.NewRequestWithContext(ctx, "POST", w.srv.URL, strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Content-Type", ctJSON)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=abc")
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp
}

var placeholder = regexp.MustCompile(`<<([^<>]*)>>`)

// expand replaces the <<...>> placeholders of a request body, innermost
// first.
func (w *wireScript) expand(td *datadriven.TestData, body string, i int) string {
	for {
		loc := placeholder.FindStringSubmatchIndex(body)
		if loc == nil {
			return body
		}
		f := strings.SplitN(body[loc[2]:loc[3]], " ", 3)
		var rep string
		switch f[0] {
		case "bytes":
			n, _ := strconv.Atoi(f[1])
			rep = base64.StdEncoding.EncodeToString(make([]byte, n))
		case "str":
			n, _ := strconv.Atoi(f[1])
			rep = strings.Repeat(f[2], n)
		case "repeat":
			n, _ := strconv.Atoi(f[1])
			parts := make([]string, n)
			for k := range parts {
				parts[k] = strings.ReplaceAll(f[2], "#", strconv.Itoa(k+1))
			}
			rep = strings.Join(parts, ",")
		case "i":
			rep = strconv.Itoa(i)
		default:
			tok, ok := w.tokens["<"+f[0]+">"]
			if !ok {
				td.Fatalf(w.t, "no token %s", f[0])
			}
			rep = tok
		}
		body = body[:loc[0]] + rep + body[loc[1]:]
	}
}

// answer prints a response: "STATUS TYPE: message" for an error, else the
// body with its tokens replaced by names.
func (w *wireScript) answer(resp *http.Response, b []byte) string {
	if resp.StatusCode != 200 {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Sprintf("%d unparsed %q\n", resp.StatusCode, b)
		}
		if bytes.Contains(b, []byte(`"Message":`)) {
			// The key as the service spells it for this error.
			return fmt.Sprintf("%d %s [Message]: %s\n", resp.StatusCode, e.Type, e.Message)
		}
		return fmt.Sprintf("%d %s: %s\n", resp.StatusCode, e.Type, e.Message)
	}
	if len(b) == 0 {
		return "(no body)\n"
	}
	return w.normalize(b) + "\n"
}

// normalize re-marshals a JSON body with sorted keys, names its tokens, and
// shortens arrays of more than 4 elements to their first two, a count and
// their last.
func (w *wireScript) normalize(b []byte) string {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return fmt.Sprintf("unparsed %q", b)
	}
	v = w.walk(v, "")
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSuffix(out.String(), "\n")
}

func (w *wireScript) walk(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = w.walk(e, k)
		}
	case []any:
		for i := range x {
			x[i] = w.walk(x[i], "")
		}
		if len(x) > 4 {
			return []any{x[0], x[1], fmt.Sprintf("... %d more ...", len(x)-3), x[len(x)-1]}
		}
	case string:
		prefix := ""
		switch key {
		case "ShardIterator", "NextShardIterator":
			prefix = "it"
		case "NextToken":
			prefix = "tok"
		}
		if prefix == "" {
			return x
		}
		if w.as != "" {
			// Named: the same token may have been printed before (an
			// iterator issued at the same position and millisecond).
			name := "<" + w.as + ">"
			w.as = ""
			w.tokens[name], w.byTok[x] = x, name
			return name
		}
		if name, ok := w.byTok[x]; ok {
			return name
		}
		name := fmt.Sprintf("<%s%d>", prefix, len(w.tokens)+1)
		w.tokens[name], w.byTok[x] = x, name
		return name
	}
	return v
}
