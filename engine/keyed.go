package engine

import (
	"fmt"

	"github.com/sluicehq/sluice/state"
)

// TimeDomain says whether a timer is in event time or processing time.
type TimeDomain uint8

const (
	EventTime TimeDomain = iota
	ProcessingTime
)

func (d TimeDomain) String() string {
	if d == EventTime {
		return "event-time"
	}
	return "processing-time"
}

// TimerFiring is a timer being fired. The current key has been set to the
// timer's key.
type TimerFiring struct {
	Time      int64
	Domain    TimeDomain
	Namespace []byte // valid during the OnTimer call only
}

// Keys is a keyed operator's handle on its keys: it sets the current key
// that state and timers act on, and registers timers. It belongs to the
// operator's task goroutine.
type Keys[K comparable] struct {
	codec   state.Codec[K]
	hasher  func(K) uint64
	maxPar  int
	backend *state.Backend
	events  *state.TimerQueue
	procs   *state.TimerQueue
	keyBuf  []byte
	cur     K
	has     bool
	task    *task
	onTimer func(TimerFiring) error
}

func newKeys[K comparable](t *task, n *node, inst *opInstance, codec state.Codec[K]) (*Keys[K], error) {
	kgs := state.KeyGroupRangeFor(t.cfg.MaxParallelism, inst.parallelism, inst.subtask)
	store, dir, err := t.newKeyedStore(inst, kgs)
	if err != nil {
		return nil, fmt.Errorf("engine: operator %q: open state: %w", n.name, err)
	}
	b, err := state.NewBackend(store, state.Options{
		OperatorID: n.uid, MaxParallelism: t.cfg.MaxParallelism, KeyGroups: kgs,
		CacheEntries: t.cfg.StateCacheEntries, Clock: t.cfg.Clock,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	inst.keyedStore = &keyedStore{store: store, backend: b, dir: dir}
	k := &Keys[K]{codec: codec, hasher: state.KeyHasher(codec), maxPar: t.cfg.MaxParallelism, backend: b, task: t}
	if k.events, err = state.NewTimerQueue(b, "event"); err != nil {
		return nil, err
	}
	if k.procs, err = state.NewTimerQueue(b, "processing"); err != nil {
		return nil, err
	}
	return k, nil
}

// SetCurrentKey makes key the current key.
func (k *Keys[K]) SetCurrentKey(key K) {
	if k.has && key == k.cur {
		return
	}
	k.cur, k.has = key, true
	k.keyBuf = k.codec.Append(k.keyBuf[:0], key)
	k.backend.SetCurrentKey(state.KeyGroupForHash(k.hasher(key), k.maxPar), k.keyBuf)
}

// CurrentKey returns the current key.
func (k *Keys[K]) CurrentKey() K { return k.cur }

// Backend returns the operator's keyed state backend, for registering state.
func (k *Keys[K]) Backend() *state.Backend { return k.backend }

// RegisterEventTimer registers an event-time timer at ts for the current key
// and namespace ns; it fires once the watermark reaches ts.
func (k *Keys[K]) RegisterEventTimer(ts int64, ns []byte) error { return k.events.Register(ts, ns) }

// DeleteEventTimer removes an event-time timer.
func (k *Keys[K]) DeleteEventTimer(ts int64, ns []byte) error { return k.events.Delete(ts, ns) }

// RegisterProcessingTimer registers a processing-time timer at ts
// (milliseconds) for the current key and namespace ns.
func (k *Keys[K]) RegisterProcessingTimer(ts int64, ns []byte) error {
	if err := k.procs.Register(ts, ns); err != nil {
		return err
	}
	k.task.scheduleProcessingTime(ts)
	return nil
}

// DeleteProcessingTimer removes a processing-time timer.
func (k *Keys[K]) DeleteProcessingTimer(ts int64, ns []byte) error { return k.procs.Delete(ts, ns) }

func (k *Keys[K]) setFromTimer(t state.Timer) error {
	key, err := k.codec.Decode(t.Key)
	if err != nil {
		return fmt.Errorf("engine: decode timer key: %w", err)
	}
	k.cur, k.has = key, true
	k.keyBuf = append(k.keyBuf[:0], t.Key...)
	k.backend.SetCurrentKey(t.KeyGroup, k.keyBuf)
	return nil
}

func (k *Keys[K]) fire(q *state.TimerQueue, upTo int64, d TimeDomain) error {
	for {
		t, ok, err := q.Pop(upTo)
		if err != nil || !ok {
			return err
		}
		if err := k.setFromTimer(t); err != nil {
			return err
		}
		if err := k.onTimer(TimerFiring{Time: t.Time, Domain: d, Namespace: t.Namespace}); err != nil {
			return err
		}
	}
}

func (k *Keys[K]) fireEventTimers(wm int64) error { return k.fire(k.events, wm, EventTime) }

func (k *Keys[K]) fireProcessingTimers(now int64) (int64, error) {
	if err := k.fire(k.procs, now, ProcessingTime); err != nil {
		return MaxTime, err
	}
	return k.nextProcessingTimer(), nil
}

func (k *Keys[K]) nextProcessingTimer() int64 {
	if ts, ok := k.procs.Peek(); ok {
		return ts
	}
	return MaxTime
}

// KeyedOperator is the low-level interface of a one-input operator on a
// keyed stream (windows, joins). It sets the current key with
// keys.SetCurrentKey before touching state; the engine sets it before
// OnTimer.
type KeyedOperator[In any, K comparable, Out any] interface {
	Open(ctx *OperatorContext[Out], keys *Keys[K]) error
	ProcessBatch(batch []Record[In]) error
	OnTimer(t TimerFiring) error
	Close() error
}

// KeyedTwoInputOperator is a two-input operator on two streams keyed
// alike.
type KeyedTwoInputOperator[In1, In2 any, K comparable, Out any] interface {
	Open(ctx *OperatorContext[Out], keys *Keys[K]) error
	ProcessBatch1(batch []Record[In1]) error
	ProcessBatch2(batch []Record[In2]) error
	OnTimer(t TimerFiring) error
	Close() error
}

// keyedOperatorCore is what every keyed operator shares, of one or two
// inputs: opening with its keys, timers, closing.
type keyedOperatorCore[K comparable, Out any] interface {
	Open(ctx *OperatorContext[Out], keys *Keys[K]) error
	OnTimer(t TimerFiring) error
	Close() error
}

// instantiateKeyed makes the instance of a keyed operator for one subtask:
// its keyed state and timers, and the hooks the task calls. It is the one
// place that wires a keyed operator, for jobs and the test harness alike.
func instantiateKeyed[K comparable, Out any](t *task, n *node, subtask int, outs [][]any, codec state.Codec[K], op keyedOperatorCore[K, Out]) (*opInstance, error) {
	inst, ctx := newInstance[Out](t, n, subtask, outs)
	keys, err := newKeys(t, n, inst, codec)
	if err != nil {
		return nil, err
	}
	keys.onTimer = op.OnTimer
	inst.keyed = keys
	inst.opener = func() error { return op.Open(ctx, keys) }
	inst.closer = op.Close
	inst.setHooks(op)
	return inst, nil
}

// TransformKeyed adds a custom keyed operator; newOp is called once per
// subtask.
func TransformKeyed[In any, K comparable, Out any](ks *KeyedStream[In, K], name string, newOp func() KeyedOperator[In, K, Out]) *Stream[Out] {
	s := ks.s
	n := s.job.addNode(name, kindOneInput)
	n.keyed = true
	n.slots = []*slot{{kit: typedKit[Out]{}}}
	s.connect(n, 0)
	if newOp == nil {
		n.nilFunc = "operator factory"
	}
	n.instantiate = func(t *task, subtask int, outs [][]any) (*opInstance, []any, error) {
		op := newOp()
		inst, err := instantiateKeyed[K, Out](t, n, subtask, outs, ks.codec, op)
		if err != nil {
			return nil, nil, err
		}
		return inst, []any{Input[In](&oneInputAdapter[In]{inst: inst, fn: op.ProcessBatch})}, nil
	}
	return newStream[Out](n, 0)
}

// TransformKeyed2 adds a custom keyed two-input operator.
func TransformKeyed2[In1, In2 any, K comparable, Out any](a *KeyedStream[In1, K], b *KeyedStream[In2, K], name string, newOp func() KeyedTwoInputOperator[In1, In2, K, Out]) *Stream[Out] {
	j := a.s.job
	n := j.addNode(name, kindTwoInput)
	n.keyed = true
	n.slots = []*slot{{kit: typedKit[Out]{}}}
	a.s.connect(n, 0)
	b.s.connect(n, 1)
	if newOp == nil {
		n.nilFunc = "operator factory"
	}
	n.instantiate = func(t *task, subtask int, outs [][]any) (*opInstance, []any, error) {
		op := newOp()
		inst, err := instantiateKeyed[K, Out](t, n, subtask, outs, a.codec, op)
		if err != nil {
			return nil, nil, err
		}
		return inst, []any{
			Input[In1](&oneInputAdapter[In1]{inst: inst, fn: op.ProcessBatch1}),
			Input[In2](&oneInputAdapter[In2]{inst: inst, fn: op.ProcessBatch2}),
		}, nil
	}
	return newStream[Out](n, 0)
}

// KeyedProcessFunction processes the records of a keyed stream with
// per-key state (registered in Open, see GetValueState and friends) and
// timers. To receive timers it implements TimerFunction.
type KeyedProcessFunction[K comparable, In, Out any] interface {
	ProcessElement(v In, ctx *KeyedContext[K, Out]) error
}

// TimerFunction is implemented by keyed functions that register timers.
type TimerFunction[K comparable, Out any] interface {
	OnTimer(ts int64, ctx *KeyedContext[K, Out]) error
}

// KeyedContext is a Context on a keyed stream.
type KeyedContext[K comparable, Out any] struct {
	Context[Out]
	keys   *Keys[K]
	domain TimeDomain
}

// CurrentKey returns the key of the record (or timer) being processed.
func (c *KeyedContext[K, Out]) CurrentKey() K { return c.keys.cur }

// TimeDomain returns the domain of the timer being fired (in OnTimer).
func (c *KeyedContext[K, Out]) TimeDomain() TimeDomain { return c.domain }

// RegisterEventTimeTimer registers a timer for the current key at ts.
func (c *KeyedContext[K, Out]) RegisterEventTimeTimer(ts int64) error {
	return c.keys.RegisterEventTimer(ts, nil)
}

// DeleteEventTimeTimer removes the current key's timer at ts.
func (c *KeyedContext[K, Out]) DeleteEventTimeTimer(ts int64) error {
	return c.keys.DeleteEventTimer(ts, nil)
}

// RegisterProcessingTimeTimer registers a processing-time timer for the
// current key at ts (milliseconds).
func (c *KeyedContext[K, Out]) RegisterProcessingTimeTimer(ts int64) error {
	return c.keys.RegisterProcessingTimer(ts, nil)
}

// DeleteProcessingTimeTimer removes the current key's processing-time timer
// at ts.
func (c *KeyedContext[K, Out]) DeleteProcessingTimeTimer(ts int64) error {
	return c.keys.DeleteProcessingTimer(ts, nil)
}

// KeyedProcess applies a KeyedProcessFunction to a keyed stream.
func KeyedProcess[In any, K comparable, Out any](ks *KeyedStream[In, K], name string, fn KeyedProcessFunction[K, In, Out]) *Stream[Out] {
	out := TransformKeyed(ks, name, func() KeyedOperator[In, K, Out] {
		return &keyedProcessOp[In, K, Out]{fn: perInstance(fn), keyOf: ks.keyOf}
	})
	if fn == nil {
		ks.s.job.nodes[len(ks.s.job.nodes)-1].nilFunc = "keyed process function"
	}
	return out
}

type keyedProcessOp[In any, K comparable, Out any] struct {
	fn    KeyedProcessFunction[K, In, Out]
	keyOf func(In) K
	keys  *Keys[K]
	ctx   KeyedContext[K, Out]
	onT   TimerFunction[K, Out]
}

func (p *keyedProcessOp[In, K, Out]) Open(ctx *OperatorContext[Out], keys *Keys[K]) error {
	p.keys = keys
	p.ctx = KeyedContext[K, Out]{Context: Context[Out]{op: ctx}, keys: keys}
	p.onT, _ = p.fn.(TimerFunction[K, Out])
	if o, ok := p.fn.(Opener); ok {
		return o.Open(newRuntimeContext(ctx, keys.backend))
	}
	return nil
}

func (p *keyedProcessOp[In, K, Out]) ProcessBatch(b []Record[In]) error {
	for i := range b {
		p.keys.SetCurrentKey(p.keyOf(b[i].Value))
		p.ctx.ts = b[i].Time
		if err := p.fn.ProcessElement(b[i].Value, &p.ctx); err != nil {
			return err
		}
	}
	return nil
}

func (p *keyedProcessOp[In, K, Out]) OnTimer(t TimerFiring) error {
	if p.onT == nil {
		return nil
	}
	p.ctx.ts, p.ctx.domain = t.Time, t.Domain
	if t.Domain == ProcessingTime {
		p.ctx.ts = NoTimestamp
	}
	err := p.onT.OnTimer(t.Time, &p.ctx)
	p.ctx.domain = EventTime
	return err
}

func (p *keyedProcessOp[In, K, Out]) Close() error {
	if c, ok := p.fn.(Closer); ok {
		return c.Close()
	}
	return nil
}

func newRuntimeContext[Out any](ctx *OperatorContext[Out], b *state.Backend) *RuntimeContext {
	return &RuntimeContext{Name: ctx.name, Subtask: ctx.subtask, Parallelism: ctx.parallelism, clockNow: ctx.ProcessingTime, backend: b}
}

// KeyedState returns the keyed state backend, or an error naming the
// operator if the function does not run on a keyed stream.
func (rc *RuntimeContext) KeyedState() (*state.Backend, error) {
	if rc.backend == nil {
		return nil, fmt.Errorf("engine: operator %q: keyed state is only available on a keyed stream (use KeyBy and KeyedProcess)", rc.Name)
	}
	return rc.backend, nil
}

// GetValueState registers a value state with the built-in codec of V.
func GetValueState[V any](rc *RuntimeContext, name string, opts ...state.Option) (*state.ValueState[V], error) {
	b, err := rc.KeyedState()
	if err != nil {
		return nil, err
	}
	c, err := state.CodecFor[V]()
	if err != nil {
		return nil, fmt.Errorf("engine: operator %q: state %q: %w (use state.NewValueState with a codec)", rc.Name, name, err)
	}
	return state.NewValueState(b, name, c, opts...)
}

// GetListState registers a list state with the built-in codec of E.
func GetListState[E any](rc *RuntimeContext, name string, opts ...state.Option) (*state.ListState[E], error) {
	b, err := rc.KeyedState()
	if err != nil {
		return nil, err
	}
	c, err := state.CodecFor[E]()
	if err != nil {
		return nil, fmt.Errorf("engine: operator %q: state %q: %w (use state.NewListState with a codec)", rc.Name, name, err)
	}
	return state.NewListState(b, name, c, opts...)
}

// GetMapState registers a map state with the built-in codecs of UK and UV.
func GetMapState[UK, UV any](rc *RuntimeContext, name string, opts ...state.Option) (*state.MapState[UK, UV], error) {
	b, err := rc.KeyedState()
	if err != nil {
		return nil, err
	}
	kc, err := state.CodecFor[UK]()
	if err != nil {
		return nil, fmt.Errorf("engine: operator %q: state %q: %w (use state.NewMapState with codecs)", rc.Name, name, err)
	}
	vc, err := state.CodecFor[UV]()
	if err != nil {
		return nil, fmt.Errorf("engine: operator %q: state %q: %w (use state.NewMapState with codecs)", rc.Name, name, err)
	}
	return state.NewMapState(b, name, kc, vc, opts...)
}

// GetReducingState registers a reducing state with the built-in codec of V.
func GetReducingState[V any](rc *RuntimeContext, name string, reduce func(a, b V) V, opts ...state.Option) (*state.ReducingState[V], error) {
	b, err := rc.KeyedState()
	if err != nil {
		return nil, err
	}
	c, err := state.CodecFor[V]()
	if err != nil {
		return nil, fmt.Errorf("engine: operator %q: state %q: %w (use state.NewReducingState with a codec)", rc.Name, name, err)
	}
	return state.NewReducingState(b, name, c, reduce, opts...)
}

// ConnectedStreams are two streams of possibly different types that one
// two-input operator consumes.
type ConnectedStreams[A, B any] struct {
	a *Stream[A]
	b *Stream[B]
}

// Connect pairs two streams for CoProcess.
func Connect[A, B any](a *Stream[A], b *Stream[B]) *ConnectedStreams[A, B] {
	return &ConnectedStreams[A, B]{a: a, b: b}
}

// CoProcessFunction processes the records of two connected streams.
type CoProcessFunction[A, B, Out any] interface {
	ProcessElement1(v A, ctx *Context[Out]) error
	ProcessElement2(v B, ctx *Context[Out]) error
}

// CoProcess applies fn to connected streams.
func CoProcess[A, B, Out any](c *ConnectedStreams[A, B], name string, fn CoProcessFunction[A, B, Out]) *Stream[Out] {
	j := c.a.job
	n := j.addNode(name, kindTwoInput)
	n.slots = []*slot{{kit: typedKit[Out]{}}}
	c.a.connect(n, 0)
	c.b.connect(n, 1)
	if fn == nil {
		n.nilFunc = "co-process function"
	}
	n.instantiate = func(t *task, subtask int, outs [][]any) (*opInstance, []any, error) {
		return instantiateTwoInput(t, n, subtask, TwoInputOperator[A, B, Out](&coProcessOp[A, B, Out]{fn: perInstance(fn)}), outs)
	}
	return newStream[Out](n, 0)
}

type coProcessOp[A, B, Out any] struct {
	fn  CoProcessFunction[A, B, Out]
	ctx Context[Out]
}

func (p *coProcessOp[A, B, Out]) Open(ctx *OperatorContext[Out]) error {
	p.ctx.op = ctx
	if o, ok := p.fn.(Opener); ok {
		return o.Open(newRuntimeContext(ctx, nil))
	}
	return nil
}

func (p *coProcessOp[A, B, Out]) ProcessBatch1(b []Record[A]) error {
	for i := range b {
		p.ctx.ts = b[i].Time
		if err := p.fn.ProcessElement1(b[i].Value, &p.ctx); err != nil {
			return err
		}
	}
	return nil
}

func (p *coProcessOp[A, B, Out]) ProcessBatch2(b []Record[B]) error {
	for i := range b {
		p.ctx.ts = b[i].Time
		if err := p.fn.ProcessElement2(b[i].Value, &p.ctx); err != nil {
			return err
		}
	}
	return nil
}

func (p *coProcessOp[A, B, Out]) Close() error {
	if c, ok := p.fn.(Closer); ok {
		return c.Close()
	}
	return nil
}

// KeyedCoProcessFunction processes two streams keyed alike, with per-key
// state and timers (TimerFunction).
type KeyedCoProcessFunction[K comparable, A, B, Out any] interface {
	ProcessElement1(v A, ctx *KeyedContext[K, Out]) error
	ProcessElement2(v B, ctx *KeyedContext[K, Out]) error
}

// KeyedCoProcess applies fn to two keyed streams with the same key type.
func KeyedCoProcess[A, B any, K comparable, Out any](a *KeyedStream[A, K], b *KeyedStream[B, K], name string, fn KeyedCoProcessFunction[K, A, B, Out]) *Stream[Out] {
	out := TransformKeyed2(a, b, name, func() KeyedTwoInputOperator[A, B, K, Out] {
		return &keyedCoProcessOp[A, B, K, Out]{fn: perInstance(fn), keyOfA: a.keyOf, keyOfB: b.keyOf}
	})
	if fn == nil {
		a.s.job.nodes[len(a.s.job.nodes)-1].nilFunc = "keyed co-process function"
	}
	return out
}

type keyedCoProcessOp[A, B any, K comparable, Out any] struct {
	fn     KeyedCoProcessFunction[K, A, B, Out]
	keyOfA func(A) K
	keyOfB func(B) K
	keys   *Keys[K]
	ctx    KeyedContext[K, Out]
	onT    TimerFunction[K, Out]
}

func (p *keyedCoProcessOp[A, B, K, Out]) Open(ctx *OperatorContext[Out], keys *Keys[K]) error {
	p.keys = keys
	p.ctx = KeyedContext[K, Out]{Context: Context[Out]{op: ctx}, keys: keys}
	p.onT, _ = p.fn.(TimerFunction[K, Out])
	if o, ok := p.fn.(Opener); ok {
		return o.Open(newRuntimeContext(ctx, keys.backend))
	}
	return nil
}

func (p *keyedCoProcessOp[A, B, K, Out]) ProcessBatch1(b []Record[A]) error {
	for i := range b {
		p.keys.SetCurrentKey(p.keyOfA(b[i].Value))
		p.ctx.ts = b[i].Time
		if err := p.fn.ProcessElement1(b[i].Value, &p.ctx); err != nil {
			return err
		}
	}
	return nil
}

func (p *keyedCoProcessOp[A, B, K, Out]) ProcessBatch2(b []Record[B]) error {
	for i := range b {
		p.keys.SetCurrentKey(p.keyOfB(b[i].Value))
		p.ctx.ts = b[i].Time
		if err := p.fn.ProcessElement2(b[i].Value, &p.ctx); err != nil {
			return err
		}
	}
	return nil
}

func (p *keyedCoProcessOp[A, B, K, Out]) OnTimer(t TimerFiring) error {
	if p.onT == nil {
		return nil
	}
	p.ctx.ts, p.ctx.domain = t.Time, t.Domain
	if t.Domain == ProcessingTime {
		p.ctx.ts = NoTimestamp
	}
	err := p.onT.OnTimer(t.Time, &p.ctx)
	p.ctx.domain = EventTime
	return err
}

func (p *keyedCoProcessOp[A, B, K, Out]) Close() error {
	if c, ok := p.fn.(Closer); ok {
		return c.Close()
	}
	return nil
}
