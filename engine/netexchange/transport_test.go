package netexchange

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// checkNoLeaks fails the test if a goroutine of this package outlives it.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		var stacks string
		for i := 0; i < 2000; i++ {
			buf := make([]byte, 1<<20)
			stacks = string(buf[:runtime.Stack(buf, true)])
			if !strings.Contains(stacks, "netexchange.(*") {
				return
			}
			runtime.Gosched()
			time.Sleep(time.Millisecond)
		}
		t.Errorf("goroutines of netexchange still running:\n%s", stacks)
	})
}

func pair(t *testing.T, opts Options) (a, b *Node, pa, pb *Peer) {
	t.Helper()
	var err error
	if a, err = Listen("a", "127.0.0.1:0", opts); err != nil {
		t.Fatal(err)
	}
	if b, err = Listen("b", "127.0.0.1:0", opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := errors.Join(a.Close(), b.Close()); err != nil {
			t.Error(err)
		}
	})
	ctx := context.Background()
	if pb, err = b.Dial(ctx, a.Addr()); err != nil {
		t.Fatal(err)
	}
	if pa, err = a.Peer(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	return a, b, pa, pb
}

// waitFrame polls r until a frame arrives, woken by its notify channel.
func waitFrame(t *testing.T, r *Receiver, ready chan struct{}) []byte {
	t.Helper()
	for {
		f, ok, err := r.Poll()
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return bytes.Clone(f)
		}
		<-ready
	}
}

func notifier() (chan struct{}, func()) {
	ready := make(chan struct{}, 1)
	return ready, func() {
		select {
		case ready <- struct{}{}:
		default:
		}
	}
}

// TestCreditsBoundTheSender: a sender sends only against the receiver's
// credits — as many as its queue holds — and each release grants one
// more; frames arrive in order, and channels on one connection are
// independent.
func TestCreditsBoundTheSender(t *testing.T) {
	checkNoLeaks(t)
	_, _, pa, pb := pair(t, Options{})
	const capacity = 3
	k1, k2 := Key(0, 1, 0, 0), Key(0, 2, 0, 0)
	ready, notify := notifier()
	r1, err := pb.Receiver(k1, capacity, notify)
	if err != nil {
		t.Fatal(err)
	}
	ready2, notify2 := notifier()
	r2, err := pb.Receiver(k2, 1, notify2)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := pa.Sender(k1)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := pa.Sender(k2)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Send blocks until the credits arrive, then uses them all.
	for i := 0; i < capacity; i++ {
		if err := s1.Send(ctx, []byte(fmt.Sprint("frame ", i))); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s1.TrySend([]byte("too many")); ok || err != nil {
		t.Fatalf("TrySend without a credit = %v, %v; want false, nil", ok, err)
	}
	// The other channel is not blocked by the first one's full queue.
	if err := s2.Send(ctx, []byte("other")); err != nil {
		t.Fatal(err)
	}
	if got := string(waitFrame(t, r2, ready2)); got != "other" {
		t.Fatalf("channel 2 got %q", got)
	}
	if err := r2.Release(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < capacity+2; i++ {
		if got, want := string(waitFrame(t, r1, ready)), fmt.Sprint("frame ", i); got != want {
			t.Fatalf("frame %d = %q, want %q", i, got, want)
		}
		if err := r1.Release(); err != nil {
			t.Fatal(err)
		}
		// The credit released lets exactly one more frame through.
		if err := s1.Send(ctx, []byte(fmt.Sprint("frame ", i+capacity))); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s1.TrySend([]byte("x")); ok || err != nil {
		t.Fatalf("TrySend with the queue full again = %v, %v; want false, nil", ok, err)
	}
	if _, peak := pb.node.Buffers(); peak > capacity+1+2 {
		t.Fatalf("receivers of capacity %d and 1 held %d buffers at once", capacity, peak)
	}
}

// TestSendWaitsForCreditAndHonoursContext: a sender without credit blocks
// until ctx ends and returns its cause.
func TestSendWaitsForCreditAndHonoursContext(t *testing.T) {
	checkNoLeaks(t)
	_, _, pa, _ := pair(t, Options{})
	s, err := pa.Sender(Key(0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stop")
	done := make(chan error)
	go func() { done <- s.Send(ctx, []byte("x")) }()
	cancel(stop)
	if err := <-done; !errors.Is(err, stop) {
		t.Fatalf("Send = %v, want the context's cause", err)
	}
}

// TestConnectionDropFailsBothSides: a cut connection fails the senders and
// receivers of both ends, waking a blocked sender and notifying a
// receiver, each with an error naming the peer.
func TestConnectionDropFailsBothSides(t *testing.T) {
	checkNoLeaks(t)
	_, _, pa, pb := pair(t, Options{})
	s, err := pa.Sender(Key(0, 0, 0, 0)) // no receiver: it blocks
	if err != nil {
		t.Fatal(err)
	}
	ready, notify := notifier()
	r, err := pa.Receiver(Key(0, 1, 0, 0), 2, notify)
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan error)
	go func() { sent <- s.Send(context.Background(), []byte("x")) }()
	pb.Cut()
	err = <-sent
	if err == nil || !strings.Contains(err.Error(), `connection to worker "b" lost`) {
		t.Fatalf("blocked Send after the cut = %v, want the connection to b lost", err)
	}
	for {
		_, _, err := r.Poll()
		if err != nil {
			if !strings.Contains(err.Error(), `worker "b"`) {
				t.Fatalf("receiver error %v does not name the peer", err)
			}
			break
		}
		<-ready
	}
	<-pb.Done()
	if !strings.Contains(pb.Err().Error(), `connection to worker "a" lost`) {
		t.Fatalf("b's side: %v", pb.Err())
	}
}

// TestSilentPeerFailsByHeartbeat: a peer that completes the handshake and
// then says nothing — no data, no credit, no heartbeat — is failed once the
// timeout passes on the node's clock, and the node's own heartbeats go out
// meanwhile.
func TestSilentPeerFailsByHeartbeat(t *testing.T) {
	checkNoLeaks(t)
	clk := clock.NewManual(time.Unix(1e9, 0))
	n, err := Listen("a", "127.0.0.1:0", Options{Clock: clk, Heartbeat: time.Second, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hello := appendHeader(nil, frameHello, 0, len("silent"))
	if _, err := c.Write(append(hello, "silent"...)); err != nil {
		t.Fatal(err)
	}
	p, err := n.Peer(context.Background(), "silent")
	if err != nil {
		t.Fatal(err)
	}
	// Read what the node sends: its hello, then heartbeats.
	frames := make(chan byte, 64)
	go func() {
		defer close(frames)
		var hdr [headerLen]byte
		for {
			if _, err := readFull(c, hdr[:]); err != nil {
				return
			}
			size, typ, _ := parseHeader(hdr[:])
			if _, err := readFull(c, make([]byte, size)); err != nil {
				return
			}
			frames <- typ
		}
	}()
	for p.Err() == nil {
		for clk.Pending() == 0 && p.Err() == nil {
			runtime.Gosched()
		}
		clk.Advance(time.Second)
	}
	<-p.Done()
	if err := p.Err(); !strings.Contains(err.Error(), `worker "silent" silent for`) {
		t.Fatalf("error %v, want the peer named silent", err)
	}
	var hb int
	for typ := range frames {
		if typ == frameHeartbeat {
			hb++
		}
	}
	if hb == 0 {
		t.Fatal("the node sent no heartbeat while its peer was silent")
	}
}

// TestDataWithoutCreditFailsTheConnection: a peer that sends more than
// it was granted breaks the protocol and loses the connection.
func TestDataWithoutCreditFailsTheConnection(t *testing.T) {
	checkNoLeaks(t)
	n, err := Listen("a", "127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(append(appendHeader(nil, frameHello, 0, 1), 'x')); err != nil {
		t.Fatal(err)
	}
	p, err := n.Peer(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	key := Key(0, 0, 0, 0)
	if _, err := p.Receiver(key, 1, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // one credit was granted
		if _, err := c.Write(append(appendHeader(nil, frameData, key, 1), 'd')); err != nil {
			t.Fatal(err)
		}
	}
	<-p.Done()
	if err := p.Err(); !strings.Contains(err.Error(), "without a credit") {
		t.Fatalf("error %v, want a send without a credit", err)
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestPeerThatStopsReadingFailsByTimeout: a peer that granted credits and
// then stopped reading (a paused process) fills the socket until the
// sender's write blocks; the heartbeat loop still sees the silence and
// fails the connection, which unblocks the sender with the error.
func TestPeerThatStopsReadingFailsByTimeout(t *testing.T) {
	checkNoLeaks(t)
	clk := clock.NewManual(time.Unix(1e9, 0))
	n, err := Listen("a", "127.0.0.1:0", Options{Clock: clk, Heartbeat: time.Second, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := Key(0, 0, 0, 0)
	b := append(appendHeader(nil, frameHello, 0, len("paused")), "paused"...)
	credit := binary.AppendUvarint(nil, 1<<20)
	b = append(appendHeader(b, frameCredit, key, len(credit)), credit...)
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	p, err := n.Peer(context.Background(), "paused")
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Sender(key)
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() {
		frame := make([]byte, 1<<20)
		for {
			if err := s.Send(context.Background(), frame); err != nil {
				sent <- err
				return
			}
		}
	}()
	deadline := time.Now().Add(time.Minute) // a safety bound, not a timing assertion
	for p.Err() == nil {
		for clk.Pending() == 0 && p.Err() == nil {
			if time.Now().After(deadline) {
				t.Fatal("the heartbeat loop is stuck behind a blocked write")
			}
			runtime.Gosched()
		}
		clk.Advance(time.Second)
	}
	if err := <-sent; !strings.Contains(err.Error(), `worker "paused" silent for`) {
		t.Fatalf("Send = %v, want the paused peer's silence", err)
	}
}
