package kinesisapi

import (
	"encoding/base64"
	"unsafe"
)

// fastPutRecords decodes the common shape of a PutRecords JSON body
//
//	{"StreamName": "...", "StreamARN": "...", "Records": [
//	    {"Data": "<base64>", "PartitionKey": "...", "ExplicitHashKey": "..."}, ...]}
//
// without reflection and with two allocations in all: one arena for every
// record's data and the entries slice. Partition keys and names alias body,
// which outlives the request. Anything it does not recognise (escapes in
// strings, nulls, other members, numbers, duplicate members) makes it give
// up (ok false), and the request goes through encoding/json, which also
// produces the right error for a malformed body. FuzzFastPutRecords checks
// that whenever it succeeds it agrees with encoding/json.
func fastPutRecords(body []byte) (in putRecordsIn, ok bool) {
	p := &fastParser{b: body}
	if !p.consume('{') {
		return in, false
	}
	var haveRecords bool
	arena := make([]byte, 0, len(body)*3/4)
	for first := true; ; first = false {
		p.ws()
		if p.peek('}') {
			p.i++
			break
		}
		if !first && !p.consume(',') {
			return in, false
		}
		key, ok := p.str()
		if !ok || !p.consume(':') {
			return in, false
		}
		switch key {
		case "StreamName", "StreamARN":
			v, ok := p.str()
			if !ok {
				return in, false
			}
			s := v
			if key == "StreamName" {
				if in.StreamName != nil {
					return in, false
				}
				in.StreamName = &s
			} else {
				if in.StreamARN != nil {
					return in, false
				}
				in.StreamARN = &s
			}
		case "Records":
			if haveRecords || !p.consume('[') {
				return in, false
			}
			haveRecords = true
			in.Records = make([]putRecordsEntryIn, 0, 64)
			p.ws()
			if p.peek(']') {
				p.i++
				continue
			}
			for {
				var e putRecordsEntryIn
				if !p.record(&e, &arena) {
					return in, false
				}
				in.Records = append(in.Records, e)
				p.ws()
				if p.peek(']') {
					p.i++
					break
				}
				if !p.consume(',') {
					return in, false
				}
			}
		default:
			return in, false
		}
	}
	p.ws()
	return in, p.i == len(p.b)
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) peek(c byte) bool { return p.i < len(p.b) && p.b[p.i] == c }

func (p *fastParser) consume(c byte) bool {
	p.ws()
	if p.peek(c) {
		p.i++
		return true
	}
	return false
}

// raw returns the bytes of a string without escapes (the fast path's only
// kind), aliasing the body.
func (p *fastParser) raw() ([]byte, bool) {
	if !p.consume('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			// Escapes, control characters and non-ASCII (whose UTF-8
			// validity encoding/json checks) take the slow path.
			return nil, false
		}
		p.i++
	}
	return nil, false
}

func (p *fastParser) str() (string, bool) {
	b, ok := p.raw()
	if !ok {
		return "", false
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

func (p *fastParser) record(e *putRecordsEntryIn, arena *[]byte) bool {
	if !p.consume('{') {
		return false
	}
	for first := true; ; first = false {
		p.ws()
		if p.peek('}') {
			p.i++
			return true
		}
		if !first && !p.consume(',') {
			return false
		}
		key, ok := p.str()
		if !ok || !p.consume(':') {
			return false
		}
		switch key {
		case "Data":
			if e.Data != nil {
				return false
			}
			b64, ok := p.raw()
			if !ok {
				return false
			}
			a := *arena
			n := base64.StdEncoding.DecodedLen(len(b64))
			if cap(a)-len(a) < n {
				return false
			}
			m, err := base64.StdEncoding.Decode(a[len(a):len(a)+n], b64)
			if err != nil {
				return false
			}
			e.Data = a[len(a) : len(a)+m : len(a)+m]
			*arena = a[:len(a)+m]
		case "PartitionKey", "ExplicitHashKey":
			v, ok := p.str()
			if !ok {
				return false
			}
			s := v
			if key == "PartitionKey" {
				if e.PartitionKey != nil {
					return false
				}
				e.PartitionKey = &s
			} else {
				if e.ExplicitHashKey != nil {
					return false
				}
				e.ExplicitHashKey = &s
			}
		default:
			return false
		}
	}
}
