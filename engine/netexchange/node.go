// Package netexchange carries the engine's exchange channels between
// processes: one multiplexed TCP connection per pair of workers, every
// channel between the two on it, with credit-based flow control per channel
// as Flink's network stack has it. The receiver of a channel grants one
// credit per free buffer of its bounded queue; the sender sends a frame
// (a batch of records or an in-band control event, both opaque bytes here)
// only against a credit, so frames of a channel arrive in the order sent,
// a barrier never overtakes a record, a slow receiver stops its remote
// sender, and no queue on either side grows past its bound.
//
// Heartbeats detect a silent peer; a dropped or silent connection fails
// every sender and receiver on it with an error naming the peer, so that
// the job attempt using it fails on both sides.
//
// A Loopback (loopback.go) plugs the transport into one engine job as its
// engine.ExchangeTransport, every exchange channel crossing a real TCP
// connection on 127.0.0.1.
package netexchange

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// Frame types on the wire. A frame is a 13-byte header — length of what
// follows the length (uint32, big endian), type (1 byte), channel key
// (uint64) — and a payload.
const (
	frameHello     byte = 1 // payload: the sender's worker id
	frameData      byte = 2 // payload: one batch or control event
	frameCredit    byte = 3 // payload: uvarint number of credits granted
	frameHeartbeat byte = 4 // no payload
)

const headerLen = 13

// ErrClosed is the error of senders and receivers of a closed node.
var ErrClosed = errors.New("netexchange: node closed")

// Options configures a node. The zero value is usable.
type Options struct {
	// Heartbeat is how often an otherwise idle connection sends a
	// heartbeat. Default 500ms.
	Heartbeat time.Duration
	// Timeout fails a connection on which nothing (data, credit or
	// heartbeat) arrived for this long. Default 10s.
	Timeout time.Duration
	// Clock drives heartbeats and the timeout. Default clock.Real.
	Clock clock.Clock
	// MaxFrame bounds a frame's payload; a larger one fails the
	// connection. Default 64 MiB.
	MaxFrame int
}

func (o *Options) defaults() {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 500 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	o.Clock = clock.Or(o.Clock)
	if o.MaxFrame <= 0 {
		o.MaxFrame = 64 << 20
	}
}

// Node is one worker's end of the exchange: it accepts connections from
// other workers and dials them, one connection per pair.
type Node struct {
	id   string
	opts Options
	ln   net.Listener

	mu     sync.Mutex
	peers  map[string]*Peer
	joined map[string]chan struct{} // closed when a peer of that id registers
	closed bool
	wg     sync.WaitGroup

	// buffers counts the receive buffers allocated and not yet dropped,
	// over every receiver of the node: the test of bounded memory reads it.
	buffers atomic.Int64
	peak    atomic.Int64 // the most buffers held at once
}

// Listen starts a node named id that accepts peers on addr (such as
// "127.0.0.1:0").
func Listen(id, addr string, opts Options) (*Node, error) {
	if id == "" {
		return nil, errors.New("netexchange: a node needs a worker id")
	}
	opts.defaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("netexchange: worker %q: listen on %s: %w", id, addr, err)
	}
	n := &Node{id: id, opts: opts, ln: ln, peers: map[string]*Peer{}, joined: map[string]chan struct{}{}}
	n.wg.Add(1)
	go n.acceptLoop()
	return n, nil
}

// ID returns the node's worker id.
func (n *Node) ID() string { return n.id }

// Addr returns the address the node listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Buffers returns how many receive buffers the node's receivers hold now
// and the most they held at once.
func (n *Node) Buffers() (now, peak int64) { return n.buffers.Load(), n.peak.Load() }

func (n *Node) addBuffer() {
	v := n.buffers.Add(1)
	for {
		p := n.peak.Load()
		if v <= p || n.peak.CompareAndSwap(p, v) {
			return
		}
	}
}

func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return // closed
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			// A failed handshake concerns only that connection; the
			// dialer sees its own error.
			_, _ = n.handshake(c, false)
		}()
	}
}

// Dial connects to the worker listening on addr and returns the peer once
// both sides have registered the connection. A live connection to the same
// worker is replaced.
func (n *Node) Dial(ctx context.Context, addr string) (*Peer, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("netexchange: worker %q: dial %s: %w", n.id, addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	p, err := n.handshake(c, true)
	stop()
	if err != nil {
		return nil, err
	}
	return p, nil
}

// handshake exchanges hellos (the dialer speaks first) and registers the
// peer.
func (n *Node) handshake(c net.Conn, dialer bool) (*Peer, error) {
	if !dialer {
		_ = c.SetDeadline(time.Now().Add(n.opts.Timeout))
	}
	fail := func(err error) (*Peer, error) {
		_ = c.Close()
		return nil, fmt.Errorf("netexchange: worker %q: handshake with %s: %w", n.id, c.RemoteAddr(), err)
	}
	hello := func() error {
		b := appendHeader(nil, frameHello, 0, len(n.id))
		_, err := c.Write(append(b, n.id...))
		return err
	}
	if dialer {
		if err := hello(); err != nil {
			return fail(err)
		}
	}
	r := bufio.NewReaderSize(c, 64<<10)
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fail(err)
	}
	size, typ, _ := parseHeader(hdr[:])
	if typ != frameHello || size > 1024 {
		return fail(fmt.Errorf("expected a hello frame, got type %d of %d bytes", typ, size))
	}
	id := make([]byte, size)
	if _, err := io.ReadFull(r, id); err != nil {
		return fail(err)
	}
	if len(id) == 0 || string(id) == n.id {
		return fail(fmt.Errorf("peer named itself %q", id))
	}
	if !dialer {
		if err := hello(); err != nil {
			return fail(err)
		}
	}
	_ = c.SetDeadline(time.Time{})
	p := newPeer(n, string(id), c, r)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		_ = c.Close()
		return nil, ErrClosed
	}
	old := n.peers[p.id]
	n.peers[p.id] = p
	if ch, ok := n.joined[p.id]; ok {
		close(ch)
		delete(n.joined, p.id)
	}
	n.wg.Add(2)
	n.mu.Unlock()
	if old != nil {
		old.fail(fmt.Errorf("netexchange: connection to worker %q replaced by a new one", p.id))
	}
	go p.readLoop()
	go p.heartbeatLoop()
	return p, nil
}

// Peer returns the live connection to worker id, waiting for it until ctx
// is done.
func (n *Node) Peer(ctx context.Context, id string) (*Peer, error) {
	for {
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			return nil, ErrClosed
		}
		if p := n.peers[id]; p != nil && p.Err() == nil {
			n.mu.Unlock()
			return p, nil
		}
		ch, ok := n.joined[id]
		if !ok {
			ch = make(chan struct{})
			n.joined[id] = ch
		}
		n.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("netexchange: worker %q: waiting for worker %q: %w", n.id, id, context.Cause(ctx))
		}
	}
}

// Close stops accepting, fails every connection and waits for the node's
// goroutines to end.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	peers := make([]*Peer, 0, len(n.peers))
	for _, p := range n.peers {
		peers = append(peers, p)
	}
	for id, ch := range n.joined {
		close(ch)
		delete(n.joined, id)
	}
	n.mu.Unlock()
	err := n.ln.Close()
	for _, p := range peers {
		p.fail(ErrClosed)
	}
	n.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("netexchange: worker %q: close: %w", n.id, err)
	}
	return nil
}

func appendHeader(b []byte, typ byte, key uint64, payload int) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(1+8+payload))
	b = append(b, typ)
	return binary.BigEndian.AppendUint64(b, key)
}

// parseHeader returns the payload size, type and channel key.
func parseHeader(h []byte) (int, byte, uint64) {
	n := int(binary.BigEndian.Uint32(h[0:4])) - 9
	return n, h[4], binary.BigEndian.Uint64(h[5:13])
}
