package kinesisapi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"strconv"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// appendEventMessage appends one AWS event stream message: a prelude (total
// length, headers length, prelude CRC32), string headers, the payload, and
// a CRC32 of everything before it.
func appendEventMessage(b []byte, headers [][2]string, payload []byte) []byte {
	hlen := 0
	for _, h := range headers {
		hlen += 1 + len(h[0]) + 1 + 2 + len(h[1])
	}
	total := 12 + hlen + len(payload) + 4
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(total))
	b = binary.BigEndian.AppendUint32(b, uint32(hlen))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:start+8]))
	for _, h := range headers {
		b = append(b, byte(len(h[0])))
		b = append(b, h[0]...)
		b = append(b, 7) // string
		b = binary.BigEndian.AppendUint16(b, uint16(len(h[1])))
		b = append(b, h[1]...)
	}
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// decodeEventMessage parses one message from b (for tests and fuzzing):
// headers, payload and the rest of b.
func decodeEventMessage(b []byte) (map[string]string, []byte, []byte, error) {
	if len(b) < 16 {
		return nil, nil, nil, errors.New("eventstream: short message")
	}
	total := int(binary.BigEndian.Uint32(b))
	hlen := int(binary.BigEndian.Uint32(b[4:]))
	if total < 16 || total > len(b) || hlen > total-16 {
		return nil, nil, nil, errors.New("eventstream: bad lengths")
	}
	if crc32.ChecksumIEEE(b[:8]) != binary.BigEndian.Uint32(b[8:]) {
		return nil, nil, nil, errors.New("eventstream: prelude checksum")
	}
	if crc32.ChecksumIEEE(b[:total-4]) != binary.BigEndian.Uint32(b[total-4:]) {
		return nil, nil, nil, errors.New("eventstream: message checksum")
	}
	hs := map[string]string{}
	h := b[12 : 12+hlen]
	for len(h) > 0 {
		n := int(h[0])
		if len(h) < 1+n+3 || h[1+n] != 7 {
			return nil, nil, nil, errors.New("eventstream: bad header")
		}
		name := string(h[1 : 1+n])
		vl := int(binary.BigEndian.Uint16(h[2+n:]))
		if len(h) < 4+n+vl {
			return nil, nil, nil, errors.New("eventstream: bad header value")
		}
		hs[name] = string(h[4+n : 4+n+vl])
		h = h[4+n+vl:]
	}
	return hs, b[12+hlen : total-4], b[total:], nil
}

type startingPositionIn struct {
	Type           *string    `json:"Type"`
	SequenceNumber *string    `json:"SequenceNumber"`
	Timestamp      *epochTime `json:"Timestamp"`
}

type subscribeIn struct {
	ConsumerARN      *string             `json:"ConsumerARN"`
	ShardId          *string             `json:"ShardId"`
	StartingPosition *startingPositionIn `json:"StartingPosition"`
}

func (in *subscribeIn) check(v *violations) {
	v.check("consumerARN", str(in.ConsumerARN), consumerARNRule.Need())
	v.check("shardId", str(in.ShardId), shardIDRule.Need())
	if p := in.StartingPosition; v.check("startingPosition", object(p != nil), rule{}.Need()) &&
		v.check("startingPosition.type", str(p.Type), iteratorTypes.Need()) {
		v.check("startingPosition.sequenceNumber", str(p.SequenceNumber), sequenceRule)
	}
}

// subscribeToShard starts a subscription; errors found before it starts
// are ordinary error responses. Its output is the event stream.
func (s *Server) subscribeToShard(_ *request, in *subscribeIn) (*subscription, error) {
	p := shardlog.StartPosition{Type: shardlog.IteratorType(*in.StartingPosition.Type), SequenceNumber: strOf(in.StartingPosition.SequenceNumber)}
	if in.StartingPosition.Timestamp != nil {
		p.Timestamp = in.StartingPosition.Timestamp.Time
	}
	sub, err := s.log.SubscribeToShard(*in.ConsumerARN, *in.ShardId, p)
	if err != nil {
		return nil, err
	}
	return &subscription{s: s, sub: sub}, nil
}

// subscription is SubscribeToShard's output: it writes itself as an AWS
// event stream, an initial-response event, then a SubscribeToShardEvent
// per batch until the subscription ends; a failure after the start is an
// exception message.
type subscription struct {
	s   *Server
	sub *shardlog.Subscription
}

// streamTo writes the event stream to w until the subscription ends, the
// client goes away (r.ctx) or the server stops.
func (o *subscription) streamTo(w http.ResponseWriter, r *request) {
	s, sub := o.s, o.sub
	defer sub.Close()
	s.mu.Lock()
	s.mu.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.subs, sub)
		s.mu.Unlock()
	}()
	// End the subscription when the server stops.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-s.stopSubs:
			sub.Close()
		case <-stop:
		}
	}()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", ctEvents)
	w.WriteHeader(http.StatusOK)
	var buf []byte
	send := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	buf = appendEventMessage(buf[:0], [][2]string{{":event-type", "initial-response"}, {":content-type", "application/json"}, {":message-type", "event"}}, []byte("{}"))
	if !send(buf) {
		return
	}
	var payload []byte
	for {
		ev, err := sub.Next(r.ctx)
		if errors.Is(err, shardlog.ErrSubscriptionCompleted) {
			return
		}
		if err != nil {
			if r.ctx.Err() != nil {
				return // the client went away
			}
			code, msg, internal := s.answer(r.op, err)
			if internal {
				s.logInternal(err)
			}
			body, _ := json.Marshal(map[string]string{"message": msg})
			buf = appendEventMessage(buf[:0], [][2]string{{":exception-type", string(code)}, {":content-type", "application/json"}, {":message-type", "exception"}}, body)
			send(buf)
			return
		}
		payload = appendSubscribeEvent(payload[:0], ev)
		buf = appendEventMessage(buf[:0], [][2]string{{":event-type", "SubscribeToShardEvent"}, {":content-type", "application/json"}, {":message-type", "event"}}, payload)
		if !send(buf) {
			return
		}
	}
}

func appendSubscribeEvent(b []byte, ev *shardlog.SubscribeEvent) []byte {
	b = append(b, `{"Records":[`...)
	for i := range ev.Records {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecordJSON(b, &ev.Records[i])
	}
	b = append(b, `],"ContinuationSequenceNumber":"`...)
	b = ev.ContinuationSequenceNumber.AppendText(b)
	b = append(b, `","MillisBehindLatest":`...)
	b = strconv.AppendInt(b, ev.MillisBehindLatest, 10)
	if len(ev.ChildShards) > 0 {
		cb, _ := json.Marshal(childShapes(ev.ChildShards))
		b = append(b, `,"ChildShards":`...)
		b = append(b, cb...)
	}
	return append(b, '}')
}
