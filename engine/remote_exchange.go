package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/state"
)

// ExchangeTransport carries a job's exchange channels between processes
// instead of in-process Go channels (Config.Exchange). The engine asks it,
// once per job attempt, for both ends of every exchange channel of the
// attempt; a transport that runs a job across several workers serves the
// ends whose tasks run here. Batches and control events (watermarks,
// idleness, checkpoint barriers, end of input) travel as frames of one
// channel, in the order sent: the transport must deliver a channel's frames
// in order and must not hold more than the receiver's capacity of frames
// unreleased, so that backpressure and aligned checkpoints work as over
// in-process channels. Package engine/netexchange implements it over TCP
// with credit-based flow control.
//
// Every stream that crosses the transport needs a codec for its records:
// the built-in codecs of package state serve strings, numbers, bools and
// byte slices; other types set one with Stream.WithCodec, and a job whose
// exchanged stream has none is refused by Validate, naming the stream.
type ExchangeTransport interface {
	// OpenAttempt is called before attempt (0, 1, …) of job wires its
	// tasks. The attempt's Close is called when all its tasks have ended.
	OpenAttempt(ctx context.Context, job string, attempt int) (ExchangeAttempt, error)
}

// ExchangeAttempt serves the channel ends of one job attempt.
type ExchangeAttempt interface {
	// Sender opens the sending end of a channel.
	Sender(id ChannelID) (RemoteSender, error)
	// Receiver opens the receiving end of a channel with room for capacity
	// frames (Config.ChannelCapacity). notify is called, without blocking,
	// when a frame arrives or the channel fails.
	Receiver(id ChannelID, capacity int, notify func()) (RemoteReceiver, error)
	// Close releases everything the attempt opened.
	Close() error
}

// ChannelID names one exchange channel of a job: its edge's index (the
// same in every process that plans the same job), the operators at its
// ends and the sending and receiving subtasks.
type ChannelID struct {
	Edge     int
	From, To string
	Sender   int
	Receiver int
}

func (id ChannelID) String() string {
	return fmt.Sprintf("stream from %q (subtask %d) to %q (subtask %d)", id.From, id.Sender, id.To, id.Receiver)
}

// RemoteSender is the sending end of a channel. The payload passed to
// TrySend and Send is the sender's to reuse once they return.
type RemoteSender interface {
	// TrySend sends payload if the receiver has room for it, and reports
	// whether it did.
	TrySend(payload []byte) (bool, error)
	// Send waits until the receiver has room, then sends payload.
	Send(ctx context.Context, payload []byte) error
}

// RemoteReceiver is the receiving end of a channel.
type RemoteReceiver interface {
	// Poll returns the next frame if one has arrived; it stays valid until
	// Release, which comes before the next Poll.
	Poll() ([]byte, bool, error)
	// Release frees the last polled frame's room for the sender.
	Release() error
}

// WithCodec sets the codec of the records of s when they cross processes
// over an ExchangeTransport. Streams of types with a built-in codec of
// package state need none.
func (s *Stream[T]) WithCodec(c state.Codec[T]) *Stream[T] {
	for _, p := range s.from {
		p.node.slots[p.slot].codec = c
	}
	return s
}

// frame kinds of the exchange's payloads
const (
	frameBatch   byte = 0
	frameControl byte = 1
)

// remoteChan is both ends of one channel over a transport, as wire builds
// them; the writer uses out and the gate in.
type remoteChan[T any] struct {
	out remoteOut[T]
	in  remoteIn[T]
}

type remoteOut[T any] struct {
	id    ChannelID
	snd   RemoteSender
	codec state.Codec[T]
	size  int
	spare []Record[T]
	enc   []byte
	tmp   []byte
}

func (o *remoteOut[T]) getBuf() []Record[T] {
	if b := o.spare; b != nil {
		o.spare = nil
		return b[:0]
	}
	return make([]Record[T], 0, o.size)
}

// send encodes e and sends it against the receiver's room; the time it
// waits for room is backpressure, as for an in-process channel.
func (o *remoteOut[T]) send(ctx context.Context, e envelope[T], bp *backpressure) error {
	if e.batch != nil {
		o.enc = append(o.enc[:0], frameBatch)
		o.enc = binary.AppendUvarint(o.enc, uint64(len(e.batch)))
		for _, r := range e.batch {
			o.enc = binary.AppendVarint(o.enc, r.Time)
			o.tmp = o.codec.Append(o.tmp[:0], r.Value)
			o.enc = binary.AppendUvarint(o.enc, uint64(len(o.tmp)))
			o.enc = append(o.enc, o.tmp...)
		}
		clear(e.batch)
		o.spare = e.batch[:0]
	} else {
		o.enc = appendControl(o.enc[:0], e.ctl)
	}
	ok, err := o.snd.TrySend(o.enc)
	if err == nil && !ok {
		var start time.Time
		if bp != nil {
			start = bp.clk.Now()
			bp.waiting.Store(true)
		}
		err = o.snd.Send(ctx, o.enc)
		if bp != nil {
			bp.waiting.Store(false)
			bp.add(start)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("engine: exchange %s: %w", o.id, err)
	}
	return nil
}

func appendControl(b []byte, c control) []byte {
	b = append(b, frameControl, byte(c.kind))
	b = binary.AppendVarint(b, c.wm)
	b = binary.AppendVarint(b, c.cp.id)
	if c.cp.savepoint {
		return append(b, 1)
	}
	return append(b, 0)
}

var errBadFrame = errors.New("malformed exchange frame")

func decodeControl(b []byte) (control, error) {
	if len(b) < 2 {
		return control{}, errBadFrame
	}
	c := control{kind: ctlKind(b[1])}
	if c.kind == ctlNone || c.kind > ctlEndOfInput {
		return control{}, fmt.Errorf("%w: control kind %d", errBadFrame, b[1])
	}
	b = b[2:]
	var n int
	if c.wm, n = binary.Varint(b); n <= 0 {
		return control{}, errBadFrame
	}
	b = b[n:]
	if c.cp.id, n = binary.Varint(b); n <= 0 {
		return control{}, errBadFrame
	}
	b = b[n:]
	if len(b) != 1 || b[0] > 1 {
		return control{}, errBadFrame
	}
	c.cp.savepoint = b[0] == 1
	return c, nil
}

type remoteIn[T any] struct {
	id    ChannelID
	rcv   RemoteReceiver
	codec state.Codec[T]
	dst   Input[T]
	buf   []Record[T]
	ready chan struct{}
}

func (ic *remoteIn[T]) poll() (control, bool, error) {
	f, ok, err := ic.rcv.Poll()
	if err != nil {
		return control{}, false, fmt.Errorf("engine: exchange %s: %w", ic.id, err)
	}
	if !ok {
		return control{}, false, nil
	}
	var c control
	if len(f) > 0 && f[0] == frameControl {
		c, err = decodeControl(f)
	} else {
		err = ic.decodeBatch(f)
	}
	if rerr := ic.rcv.Release(); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return control{}, false, fmt.Errorf("engine: exchange %s: %w", ic.id, err)
	}
	if c.kind != ctlNone {
		return c, true, nil
	}
	err = ic.dst.ProcessBatch(ic.buf)
	clear(ic.buf)
	ic.buf = ic.buf[:0]
	return control{}, true, err
}

func (ic *remoteIn[T]) decodeBatch(f []byte) error {
	if len(f) == 0 || f[0] != frameBatch {
		return errBadFrame
	}
	f = f[1:]
	n, k := binary.Uvarint(f)
	if k <= 0 || n > uint64(len(f)) {
		return fmt.Errorf("%w: record count", errBadFrame)
	}
	f = f[k:]
	ic.buf = ic.buf[:0]
	for i := uint64(0); i < n; i++ {
		ts, k := binary.Varint(f)
		if k <= 0 {
			return fmt.Errorf("%w: record %d's time", errBadFrame, i)
		}
		f = f[k:]
		l, k := binary.Uvarint(f)
		if k <= 0 || l > uint64(len(f)-k) {
			return fmt.Errorf("%w: record %d's length", errBadFrame, i)
		}
		f = f[k:]
		v, err := ic.codec.Decode(f[:l])
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		f = f[l:]
		ic.buf = append(ic.buf, Record[T]{Value: v, Time: ts})
	}
	if len(f) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", errBadFrame, len(f))
	}
	return nil
}

func (ic *remoteIn[T]) wait(ctx context.Context) (control, error) {
	for {
		c, ok, err := ic.poll()
		if ok || err != nil {
			return c, err
		}
		select {
		case <-ic.ready:
		case <-ctx.Done():
			return control{}, context.Cause(ctx)
		}
	}
}

// codecFor returns the codec of a slot's records over a transport: the one
// set with WithCodec, else the built-in one of package state.
func (typedKit[T]) codecFor(explicit any) (any, error) {
	if explicit != nil {
		return explicit, nil
	}
	c, err := state.CodecFor[T]()
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (typedKit[T]) remoteChannel(id ChannelID, snd RemoteSender, rcv RemoteReceiver, codec any, batchSize int, ready chan struct{}) any {
	c := codec.(state.Codec[T])
	return &remoteChan[T]{
		out: remoteOut[T]{id: id, snd: snd, codec: c, size: batchSize},
		in:  remoteIn[T]{id: id, rcv: rcv, codec: c, ready: ready},
	}
}

// checkExchangeCodecs refuses, when the job's exchanges cross a transport,
// every exchanged stream whose records have no codec.
func (j *Job) checkExchangeCodecs() []error {
	if j.cfg.Exchange == nil {
		return nil
	}
	var errs []error
	for _, n := range j.nodes {
		for si, s := range n.slots {
			for _, e := range s.edges {
				if j.chained(e) {
					continue
				}
				if _, err := s.kit.codecFor(s.codec); err != nil {
					name := "output"
					if si > 0 {
						name = fmt.Sprintf("side output %q", s.tag)
					}
					errs = append(errs, validationError(n.name, "its %s to %q (records of type %s) crosses processes over the exchange transport and has no codec: set one with WithCodec (%v)",
						name, e.to.name, s.kit.typ(), err))
					break
				}
			}
		}
	}
	return errs
}

// openRemoteChannel opens both ends of channel id over the attempt's
// transport, the receiver poking gate g.
func (ex *execution) openRemoteChannel(k kit, codec any, id ChannelID, g *inputGate) (any, error) {
	c, err := k.codecFor(codec)
	if err != nil {
		return nil, fmt.Errorf("engine: exchange %s: %w", id, err)
	}
	snd, err := ex.remote.Sender(id)
	if err != nil {
		return nil, fmt.Errorf("engine: exchange %s: open sender: %w", id, err)
	}
	ready := make(chan struct{}, 1)
	rcv, err := ex.remote.Receiver(id, ex.cfg.ChannelCapacity, func() {
		g.notify()
		select {
		case ready <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("engine: exchange %s: open receiver: %w", id, err)
	}
	return k.remoteChannel(id, snd, rcv, c, ex.cfg.BatchSize, ready), nil
}

// runAttempt runs one attempt, over the job's exchange transport if it has
// one.
func (r *Running) runAttempt(parent context.Context, restore *restorePlan, failedAt time.Time) error {
	xt := r.job.cfg.Exchange
	if xt == nil {
		return r.runAttemptOn(parent, restore, failedAt, nil)
	}
	r.mu.Lock()
	attempt := r.attempt
	r.mu.Unlock()
	xa, err := xt.OpenAttempt(parent, r.job.name, attempt)
	if err != nil {
		return fmt.Errorf("engine: job %q attempt %d: open the exchange transport: %w", r.job.name, attempt, err)
	}
	err = r.runAttemptOn(parent, restore, failedAt, xa)
	if cerr := xa.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("engine: job %q attempt %d: close the exchange transport: %w", r.job.name, attempt, cerr)
	}
	return err
}
