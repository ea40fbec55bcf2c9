package kinesisapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// eventHeaders are the headers of the messages SubscribeToShard sends, in
// the order the service sends them.
var (
	initialResponseHeaders = eventHeaders(":event-type", "initial-response")
	shardEventHeaders      = eventHeaders(":event-type", "SubscribeToShardEvent")
)

func eventHeaders(kind, value string) eventstream.Headers {
	msgType := "event"
	if kind == ":exception-type" {
		msgType = "exception"
	}
	return eventstream.Headers{
		{Name: kind, Value: eventstream.StringValue(value)},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		{Name: ":message-type", Value: eventstream.StringValue(msgType)},
	}
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
	// The SDK's encoder frames each message (prelude, headers, payload,
	// CRCs) and writes it to w in one Write.
	enc := eventstream.NewEncoder()
	send := func(headers eventstream.Headers, payload []byte) bool {
		if err := enc.Encode(w, eventstream.Message{Headers: headers, Payload: payload}); err != nil {
			return false // the client went away
		}
		return rc.Flush() == nil
	}
	if !send(initialResponseHeaders, []byte("{}")) {
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
			send(eventHeaders(":exception-type", string(code)), body)
			return
		}
		payload = appendSubscribeEvent(payload[:0], ev)
		if !send(shardEventHeaders, payload) {
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
