package netexchange

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sluicehq/sluice/engine"
)

// Loopback is two workers' nodes, "a" and "b", on 127.0.0.1 joined by one
// TCP connection, serving as the engine.ExchangeTransport of a job that
// runs in this process: the sending end of a channel lives on a for even
// sending subtasks and on b for odd ones, its receiving end on the other,
// so every exchange channel of the job crosses the connection, in both
// directions. It is the drop-in that tests and benchmarks the transport
// under the engine's exchanges before a worker process splits a job's
// tasks across machines. An attempt whose connection was lost redials at
// the next attempt.
type Loopback struct {
	a, b *Node
	mu   sync.Mutex // serialises reconnecting
	gens uint32     // attempts opened: each gets its own generation
}

// NewLoopback starts the two nodes and connects them.
func NewLoopback(ctx context.Context, opts Options) (*Loopback, error) {
	a, err := Listen("a", "127.0.0.1:0", opts)
	if err != nil {
		return nil, err
	}
	b, err := Listen("b", "127.0.0.1:0", opts)
	if err != nil {
		return nil, errors.Join(err, a.Close())
	}
	l := &Loopback{a: a, b: b}
	if _, _, err := l.connect(ctx); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	return l, nil
}

// Nodes returns the two nodes.
func (l *Loopback) Nodes() (a, b *Node) { return l.a, l.b }

// connect returns each side's live peer, dialling again (which replaces
// the old connection on both sides) if either side has lost it.
func (l *Loopback) connect(ctx context.Context) (pa, pb *Peer, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pa, errA := l.a.Peer(doneCtx, "b")
	pb, errB := l.b.Peer(doneCtx, "a")
	if errA == nil && errB == nil {
		return pa, pb, nil
	}
	if pb, err = l.b.Dial(ctx, l.a.Addr()); err != nil {
		return nil, nil, err
	}
	// The accepting side registers the connection once its hello is out.
	for {
		if pa, err = l.a.Peer(ctx, "b"); err != nil {
			return nil, nil, err
		}
		if pa.conn.RemoteAddr().String() == pb.conn.LocalAddr().String() {
			return pa, pb, nil
		}
		// a still holds the old connection (its failure not yet seen):
		// wait for the new one to replace it.
		select {
		case <-pa.Done():
		case <-ctx.Done():
			return nil, nil, context.Cause(ctx)
		}
	}
}

// doneCtx asks Node.Peer for a live peer without waiting.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Cut drops the connection between the two nodes, as a network failure
// would: every channel on it fails on both sides.
func (l *Loopback) Cut() {
	if p, err := l.a.Peer(doneCtx, "b"); err == nil {
		p.Cut()
	}
}

// Buffers returns the receive buffers held now and the most held at once,
// over both nodes.
func (l *Loopback) Buffers() (now, peak int64) {
	an, ap := l.a.Buffers()
	bn, bp := l.b.Buffers()
	return an + bn, ap + bp
}

// Close closes both nodes.
func (l *Loopback) Close() error { return errors.Join(l.a.Close(), l.b.Close()) }

// OpenAttempt implements engine.ExchangeTransport.
func (l *Loopback) OpenAttempt(ctx context.Context, job string, attempt int) (engine.ExchangeAttempt, error) {
	pa, pb, err := l.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("netexchange: job %q attempt %d: %w", job, attempt, err)
	}
	// Both ends are here, so a counter names the attempt's channels; across
	// processes the generation is what the workers agree on for the job
	// attempt (the coordinator's attempt number).
	l.mu.Lock()
	gen := uint16(l.gens)
	l.gens++
	l.mu.Unlock()
	return &loopAttempt{peers: [2]*Peer{pa, pb}, gen: gen}, nil
}

type loopAttempt struct {
	peers [2]*Peer // a's connection to b, b's to a
	gen   uint16
}

func (la *loopAttempt) key(id engine.ChannelID) (uint64, error) {
	for _, v := range []int{id.Edge, id.Sender, id.Receiver} {
		if v < 0 || v > 0xffff {
			return 0, fmt.Errorf("netexchange: %s: edge %d, subtasks %d and %d must each fit in 16 bits", id, id.Edge, id.Sender, id.Receiver)
		}
	}
	return Key(la.gen, uint16(id.Edge), uint16(id.Sender), uint16(id.Receiver)), nil
}

func (la *loopAttempt) Sender(id engine.ChannelID) (engine.RemoteSender, error) {
	k, err := la.key(id)
	if err != nil {
		return nil, err
	}
	return la.peers[id.Sender%2].Sender(k)
}

func (la *loopAttempt) Receiver(id engine.ChannelID, capacity int, notify func()) (engine.RemoteReceiver, error) {
	k, err := la.key(id)
	if err != nil {
		return nil, err
	}
	return la.peers[1-id.Sender%2].Receiver(k, capacity, notify)
}

func (la *loopAttempt) Close() error {
	for _, p := range la.peers {
		p.Retire(la.gen)
	}
	return nil
}
