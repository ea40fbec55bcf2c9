package kinesisapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkAuthenticate is the server's cost of verifying one signed
// request (parse, key lookup, the SDK's signer over the rebuilt request,
// the body's SHA-256), for a small request and for a full PutRecords of
// 500 records of 100 B as the SDK sends it.
func BenchmarkAuthenticate(b *testing.B) {
	s := fuzzAuthServer(b)
	data := base64.StdEncoding.EncodeToString(make([]byte, 100))
	var sb strings.Builder
	sb.WriteString(`{"StreamName":"s","Records":[`)
	for i := 0; i < 500; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"Data":"%s","PartitionKey":"key-%d"}`, data, i)
	}
	sb.WriteString(`]}`)
	for _, bc := range []struct{ name, op, body string }{
		{"ListStreams", "ListStreams", `{}`},
		{"PutRecords-500x100B", "PutRecords", sb.String()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := rawRequest(b, "http://127.0.0.1:4567", bc.op, bc.body)
			sign(b, req, bc.body, alice, "us-east-1", "kinesis", authNow)
			hr := &http.Request{Method: req.Method, URL: req.URL, Host: req.URL.Host, Header: req.Header}
			body := []byte(bc.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if p, err := s.authenticate(hr, body); err != nil || p == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
