package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/state"
)

// frameQueue is a one-channel transport end pair in memory: what the
// sender sends, the receiver polls.
type frameQueue struct {
	frames [][]byte
	held   bool
}

func (q *frameQueue) TrySend(p []byte) (bool, error) {
	q.frames = append(q.frames, append([]byte(nil), p...))
	return true, nil
}

func (q *frameQueue) Send(_ context.Context, p []byte) error { _, err := q.TrySend(p); return err }

func (q *frameQueue) Poll() ([]byte, bool, error) {
	if len(q.frames) == 0 {
		return nil, false, nil
	}
	q.held = true
	return q.frames[0], true, nil
}

func (q *frameQueue) Release() error {
	if q.held {
		q.frames, q.held = q.frames[1:], false
	}
	return nil
}

// TestRemoteFramesRoundTrip: batches (with their timestamps) and every kind
// of control event come out of a transport's frames as they went in, in
// order, and a malformed frame is an error naming the channel.
func TestRemoteFramesRoundTrip(t *testing.T) {
	q := &frameQueue{}
	id := ChannelID{Edge: 3, From: "src", To: "sum", Sender: 1, Receiver: 0}
	var got []Record[string]
	rc := typedKit[string]{}.remoteChannel(id, q, q, state.Codec[string](mustCodec[string](t)), 4, make(chan struct{}, 1)).(*remoteChan[string])
	rc.in.dst = inputFunc[string](func(b []Record[string]) error { got = append(got, b...); return nil })
	ctx := context.Background()
	batch := []Record[string]{{Value: "a", Time: MinTime}, {Value: "", Time: 42}, {Value: "ccc", Time: -7}}
	ctls := []control{
		{kind: ctlWatermark, wm: 99},
		{kind: ctlBarrier, cp: checkpointBarrier{id: 12, savepoint: true}},
		{kind: ctlIdle}, {kind: ctlActive}, {kind: ctlEndOfInput, wm: MaxTime},
	}
	if err := rc.out.send(ctx, envelope[string]{batch: append([]Record[string](nil), batch...)}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range ctls {
		if err := rc.out.send(ctx, envelope[string]{ctl: c}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c, ok, err := rc.in.poll()
	if err != nil || !ok || c.kind != ctlNone {
		t.Fatalf("first poll = %+v, %v, %v; want the batch", c, ok, err)
	}
	if len(got) != len(batch) {
		t.Fatalf("got %v, want %v", got, batch)
	}
	for i := range batch {
		if got[i] != batch[i] {
			t.Fatalf("record %d = %+v, want %+v", i, got[i], batch[i])
		}
	}
	for _, want := range ctls {
		c, ok, err := rc.in.poll()
		if err != nil || !ok || c != want {
			t.Fatalf("poll = %+v, %v, %v; want %+v", c, ok, err, want)
		}
	}
	if _, ok, err := rc.in.poll(); ok || err != nil {
		t.Fatalf("poll of an empty channel = %v, %v", ok, err)
	}
	for _, bad := range [][]byte{{}, {frameBatch, 5}, {frameControl, 99, 0, 0, 0}, {frameBatch, 1, 0, 9, 'x'}, {7}} {
		q.frames = [][]byte{bad}
		_, _, err := rc.in.poll()
		if err == nil || !strings.Contains(err.Error(), `stream from "src" (subtask 1) to "sum" (subtask 0)`) {
			t.Errorf("frame %v: error %v, want one naming the channel", bad, err)
		}
		if !errors.Is(err, errBadFrame) && !strings.Contains(err.Error(), "record") {
			t.Errorf("frame %v: error %v is not a malformed frame", bad, err)
		}
	}
}

func mustCodec[T any](t *testing.T) state.Codec[T] {
	t.Helper()
	c, err := state.CodecFor[T]()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
