package netexchange

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Peer is the one connection between this node and another worker. Every
// channel between the two travels on it.
type Peer struct {
	node *Node
	id   string
	conn net.Conn
	r    *bufio.Reader

	wmu     sync.Mutex // serialises writes
	w       *bufio.Writer
	writers atomic.Int32 // writers waiting for or holding wmu

	lastSent atomic.Int64 // by the node's clock, unix nanoseconds
	lastRecv atomic.Int64

	mu      sync.Mutex
	out     map[uint64]*Sender
	in      map[uint64]*Receiver
	retired map[uint16]bool // generations whose channels are gone

	dead     chan struct{}
	failOnce sync.Once
	err      error // set before dead is closed

	framesIn, framesOut atomic.Int64
}

func newPeer(n *Node, id string, c net.Conn, r *bufio.Reader) *Peer {
	p := &Peer{
		node: n, id: id, conn: c, r: r, w: bufio.NewWriterSize(c, 64<<10),
		out: map[uint64]*Sender{}, in: map[uint64]*Receiver{}, retired: map[uint16]bool{},
		dead: make(chan struct{}),
	}
	now := n.opts.Clock.Now().UnixNano()
	p.lastSent.Store(now)
	p.lastRecv.Store(now)
	return p
}

// ID returns the peer's worker id.
func (p *Peer) ID() string { return p.id }

// Err returns why the connection failed, or nil while it is live.
func (p *Peer) Err() error {
	select {
	case <-p.dead:
		return p.err
	default:
		return nil
	}
}

// Done is closed when the connection has failed.
func (p *Peer) Done() <-chan struct{} { return p.dead }

// Frames returns the frames received and sent so far.
func (p *Peer) Frames() (in, out int64) { return p.framesIn.Load(), p.framesOut.Load() }

// Cut closes the connection as a network failure would (tests inject
// failures with it); both sides see the connection lost.
func (p *Peer) Cut() {
	p.fail(fmt.Errorf("netexchange: connection to worker %q lost: cut", p.id))
}

// fail ends the connection with err (the first error wins): every sender
// and receiver on it reports err from then on.
func (p *Peer) fail(err error) {
	p.failOnce.Do(func() {
		p.err = err
		close(p.dead)
		_ = p.conn.Close()
		p.mu.Lock()
		recvs := make([]*Receiver, 0, len(p.in))
		for _, r := range p.in {
			recvs = append(recvs, r)
		}
		p.mu.Unlock()
		for _, r := range recvs {
			r.notify()
		}
		n := p.node
		n.mu.Lock()
		if n.peers[p.id] == p {
			delete(n.peers, p.id)
		}
		n.mu.Unlock()
	})
}

// write sends one frame. Writers that find others waiting leave the flush
// to the last of them, so frames of busy channels share syscalls.
func (p *Peer) write(typ byte, key uint64, payload []byte) error {
	if err := p.Err(); err != nil {
		return err
	}
	p.writers.Add(1)
	p.wmu.Lock()
	return p.writeLocked(typ, key, payload)
}

// tryWrite is write if no other write is under way (which, if it is
// stuck on a peer that stopped reading, must not also stop the heartbeat
// loop from noticing the silence); it reports whether it wrote.
func (p *Peer) tryWrite(typ byte, key uint64, payload []byte) (bool, error) {
	if err := p.Err(); err != nil {
		return false, err
	}
	if !p.wmu.TryLock() {
		return false, nil
	}
	p.writers.Add(1)
	return true, p.writeLocked(typ, key, payload)
}

func (p *Peer) writeLocked(typ byte, key uint64, payload []byte) error {
	var hdr [headerLen]byte
	appendHeader(hdr[:0], typ, key, len(payload))
	_, err := p.w.Write(hdr[:])
	if err == nil && len(payload) > 0 {
		_, err = p.w.Write(payload)
	}
	if p.writers.Add(-1) == 0 && err == nil {
		err = p.w.Flush()
	}
	p.wmu.Unlock()
	if err != nil {
		p.fail(fmt.Errorf("netexchange: connection to worker %q lost: %w", p.id, err))
		return p.err
	}
	p.framesOut.Add(1)
	p.lastSent.Store(p.node.opts.Clock.Now().UnixNano())
	return nil
}

func (p *Peer) readLoop() {
	defer p.node.wg.Done()
	err := p.read()
	p.fail(err)
}

func (p *Peer) read() error {
	lost := func(err error) error {
		return fmt.Errorf("netexchange: connection to worker %q lost: %w", p.id, err)
	}
	var hdr [headerLen]byte
	for {
		if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
			return lost(err)
		}
		p.lastRecv.Store(p.node.opts.Clock.Now().UnixNano())
		p.framesIn.Add(1)
		size, typ, key := parseHeader(hdr[:])
		if size < 0 || size > p.node.opts.MaxFrame {
			return lost(fmt.Errorf("frame of %d bytes exceeds the limit of %d", size, p.node.opts.MaxFrame))
		}
		switch typ {
		case frameHeartbeat:
			if size != 0 {
				return lost(fmt.Errorf("heartbeat frame with %d bytes of payload", size))
			}
		case frameCredit:
			var b [binary.MaxVarintLen64]byte
			if size > len(b) {
				return lost(fmt.Errorf("credit frame of %d bytes", size))
			}
			if _, err := io.ReadFull(p.r, b[:size]); err != nil {
				return lost(err)
			}
			n, k := binary.Uvarint(b[:size])
			if k != size || n == 0 || n > 1<<20 {
				return lost(fmt.Errorf("malformed credit frame on channel %#x", key))
			}
			p.grant(key, int(n))
		case frameData:
			if err := p.deliver(key, size); err != nil {
				return lost(err)
			}
		default:
			return lost(fmt.Errorf("unknown frame type %d", typ))
		}
	}
}

// grant adds credits to a channel's sender, creating its state when the
// credit comes before the sender is opened.
func (p *Peer) grant(key uint64, n int) {
	p.mu.Lock()
	s := p.out[key]
	if s == nil {
		if p.retired[genOf(key)] {
			p.mu.Unlock()
			return
		}
		s = &Sender{p: p, key: key, wake: make(chan struct{}, 1)}
		p.out[key] = s
	}
	s.credits += n
	p.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// deliver reads a data frame of size bytes into its receiver's queue.
func (p *Peer) deliver(key uint64, size int) error {
	p.mu.Lock()
	r := p.in[key]
	p.mu.Unlock()
	if r == nil {
		// The receiver was closed (its job attempt ended): drop the frame.
		_, err := p.r.Discard(size)
		return err
	}
	buf := r.getBuf(size)
	if _, err := io.ReadFull(p.r, buf); err != nil {
		return err
	}
	select {
	case r.q <- buf:
	default:
		return fmt.Errorf("worker %q sent on channel %#x without a credit (its queue of %d is full)", p.id, key, r.capacity)
	}
	r.notify()
	return nil
}

func (p *Peer) heartbeatLoop() {
	defer p.node.wg.Done()
	o := p.node.opts
	t := o.Clock.NewTimer(o.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-p.dead:
			return
		case <-t.C():
		}
		now := o.Clock.Now().UnixNano()
		if silent := time.Duration(now - p.lastRecv.Load()); silent > o.Timeout {
			p.fail(fmt.Errorf("netexchange: worker %q silent for %s (no heartbeat within the timeout of %s)", p.id, silent, o.Timeout))
			return
		}
		if time.Duration(now-p.lastSent.Load()) >= o.Heartbeat {
			if _, err := p.tryWrite(frameHeartbeat, 0, nil); err != nil {
				return
			}
		}
		t.Reset(o.Heartbeat)
	}
}

// Retire drops the state of every channel of generation gen (a job
// attempt that ended) and every frame for it that still arrives.
func (p *Peer) Retire(gen uint16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retired[gen] = true
	for k, s := range p.out {
		if genOf(k) == gen {
			delete(p.out, k)
			s.closed = true
		}
	}
	for k, r := range p.in {
		if genOf(k) == gen {
			delete(p.in, k)
			r.drop()
		}
	}
}

// Key packs a channel's generation (the job attempt, modulo 2^16), edge,
// sending and receiving subtasks into the channel key of the wire.
func Key(gen, edge, sender, receiver uint16) uint64 {
	return uint64(gen)<<48 | uint64(edge)<<32 | uint64(sender)<<16 | uint64(receiver)
}

func genOf(key uint64) uint16 { return uint16(key >> 48) }

// Sender is the sending end of one channel on a peer.
type Sender struct {
	p       *Peer
	key     uint64
	credits int  // guarded by p.mu
	closed  bool // guarded by p.mu
	wake    chan struct{}
}

// Sender opens the sending end of channel key.
func (p *Peer) Sender(key uint64) (*Sender, error) {
	if err := p.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.retired[genOf(key)] {
		return nil, fmt.Errorf("netexchange: channel %#x belongs to a retired generation", key)
	}
	s := p.out[key]
	if s == nil {
		s = &Sender{p: p, key: key, wake: make(chan struct{}, 1)}
		p.out[key] = s
	}
	return s, nil
}

// take uses one credit if there is one.
func (s *Sender) take() (bool, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if s.closed {
		return false, fmt.Errorf("netexchange: sender of channel %#x is closed", s.key)
	}
	if s.credits == 0 {
		return false, nil
	}
	s.credits--
	return true, nil
}

// Credits returns the credits the receiver has granted and the sender not
// yet used.
func (s *Sender) Credits() int {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return s.credits
}

// TrySend sends payload if a credit is free and reports whether it did.
func (s *Sender) TrySend(payload []byte) (bool, error) {
	if err := s.p.Err(); err != nil {
		return false, err
	}
	ok, err := s.take()
	if !ok || err != nil {
		return false, err
	}
	return true, s.p.write(frameData, s.key, payload)
}

// Send waits for a credit, then sends payload. It fails when the
// connection does or ctx is done.
func (s *Sender) Send(ctx context.Context, payload []byte) error {
	for {
		if err := s.p.Err(); err != nil {
			return err
		}
		ok, err := s.take()
		if err != nil {
			return err
		}
		if ok {
			return s.p.write(frameData, s.key, payload)
		}
		select {
		case <-s.wake:
		case <-s.p.dead:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// Receiver is the receiving end of one channel: a queue of at most
// capacity frames, each granted to the sender as one credit.
type Receiver struct {
	p        *Peer
	key      uint64
	capacity int
	q        chan []byte
	free     chan []byte
	notifyFn func()
	held     []byte
	allocs   atomic.Int64 // buffers this receiver allocated and holds
	dropped  atomic.Bool
}

// Receiver opens the receiving end of channel key with a queue of capacity
// frames and grants the sender that many credits. notify is called (from
// the connection's goroutine; it must not block) after each frame arrives
// and when the connection fails.
func (p *Peer) Receiver(key uint64, capacity int, notify func()) (*Receiver, error) {
	if capacity < 1 {
		return nil, fmt.Errorf("netexchange: channel %#x: capacity %d must be at least 1", key, capacity)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	r := &Receiver{
		p: p, key: key, capacity: capacity, notifyFn: notify,
		q: make(chan []byte, capacity), free: make(chan []byte, capacity),
	}
	p.mu.Lock()
	if p.retired[genOf(key)] {
		p.mu.Unlock()
		return nil, fmt.Errorf("netexchange: channel %#x belongs to a retired generation", key)
	}
	if p.in[key] != nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("netexchange: channel %#x already has a receiver", key)
	}
	p.in[key] = r
	p.mu.Unlock()
	if err := p.write(frameCredit, key, binary.AppendUvarint(nil, uint64(capacity))); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Receiver) notify() {
	if r.notifyFn != nil {
		r.notifyFn()
	}
}

// getBuf returns a buffer of size bytes: a free one if there is one. A
// receiver holds at most capacity+1 buffers (its queue and the frame being
// processed), since its sender sends only against credits.
func (r *Receiver) getBuf(size int) []byte {
	select {
	case b := <-r.free:
		if cap(b) >= size {
			return b[:size]
		}
		return make([]byte, size) // replaces b, which is dropped
	default:
		if !r.dropped.Load() {
			r.allocs.Add(1)
			r.p.node.addBuffer()
		}
		return make([]byte, size)
	}
}

// Poll returns the next frame if one has arrived. The frame stays valid
// until Release, which must come before the next Poll.
func (r *Receiver) Poll() ([]byte, bool, error) {
	if err := r.p.Err(); err != nil {
		return nil, false, err
	}
	if r.dropped.Load() {
		return nil, false, fmt.Errorf("netexchange: receiver of channel %#x is closed", r.key)
	}
	if r.held != nil {
		return nil, false, fmt.Errorf("netexchange: channel %#x polled before the previous frame was released", r.key)
	}
	select {
	case b := <-r.q:
		r.held = b
		return b, true, nil
	default:
		return nil, false, nil
	}
}

// Release frees the frame of the last Poll and grants the sender a credit
// for it.
func (r *Receiver) Release() error {
	if r.held == nil {
		return nil
	}
	b := r.held
	r.held = nil
	select {
	case r.free <- b[:0]:
	default:
		if r.allocs.Add(-1) >= 0 {
			r.p.node.buffers.Add(-1)
		}
	}
	return r.p.write(frameCredit, r.key, []byte{1})
}

// drop releases the receiver's buffers from the node's count (its channel
// was retired).
func (r *Receiver) drop() {
	if r.dropped.Swap(true) {
		return
	}
	// Buffers still queued, free or held are garbage now.
	r.p.node.buffers.Add(-r.allocs.Swap(0))
	r.notify()
}
