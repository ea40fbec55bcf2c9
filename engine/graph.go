package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/sluicehq/sluice/state"
)

// Job is a dataflow under construction: build it with Source, Map, KeyBy,
// Process, SinkTo and the like, then run it with Execute. Building records
// problems instead of failing each call; Validate (and Execute) report them
// all, each naming its operator. A Job is not safe for concurrent use while
// it is being built.
type Job struct {
	name  string
	cfg   Config
	nodes []*node
	errs  []error
	mu    sync.Mutex // guards ran
	ran   bool
}

// NewJob returns an empty job.
func NewJob(name string, cfg Config) *Job {
	cfg.EnsureDefaults()
	return &Job{name: name, cfg: cfg}
}

// Name returns the job's name.
func (j *Job) Name() string { return j.name }

// Config returns the job's configuration with defaults filled in.
func (j *Job) Config() Config { return j.cfg }

type nodeKind int

const (
	kindSource nodeKind = iota
	kindOneInput
	kindTwoInput
)

// partitioning is how records travel over an edge.
type partitioning int

const (
	partAuto      partitioning = iota // forward if parallelism matches, else rebalance
	partForward                       // subtask i to subtask i
	partRebalance                     // round robin
	partHash                          // by key group
	partBroadcast                     // to every subtask
)

func (p partitioning) String() string {
	return [...]string{"auto", "forward", "rebalance", "hash", "broadcast"}[p]
}

// node is one operator of the logical graph.
type node struct {
	id          int
	job         *Job
	name        string
	uid         string
	kind        nodeKind
	parallelism int // 0: the job's default
	fixedPar    bool
	noChain     bool
	keyed       bool // needs a keyed input
	isSink      bool
	inputs      [2][]*edge // per logical input
	slots       []*slot    // 0: main output; then side outputs
	// instantiate builds subtask's instance; outs[i] are the consumers
	// (Input[T] of slot i's type) of output slot i. It returns the
	// instance and its typed inputs (Input[In] per logical input).
	instantiate func(t *task, subtask int, outs [][]any) (*opInstance, []any, error)
	// nilFunc names a required function argument that was nil.
	nilFunc string
	// splits is the split coordination of a SplitSource.
	splits *splitBinding
	// newCommitter makes the global committer of a GlobalCommitSink.
	newCommitter func(ctx context.Context, info CommitterInfo) (GlobalCommitter, error)
}

func (n *node) String() string { return n.name }

// slot is an output of a node: its element type and outgoing edges.
type slot struct {
	tag   string // "" for the main output
	kit   kit
	edges []*edge
	// codec, a state.Codec of the kit's type, encodes the records when
	// they cross an ExchangeTransport (nil: the built-in codec).
	codec any
}

// edge connects an output slot of one node to a logical input of another.
type edge struct {
	from     *node
	fromSlot int
	to       *node
	toInput  int
	part     partitioning
	// keyGroupOf, for hash edges, returns a new func(T) int computing a
	// record's key group; each exchange writer gets its own.
	keyGroupOf func() any
	keyType    reflect.Type
}

// resolvedPart returns the partitioning after planning.
func (e *edge) resolvedPart() partitioning {
	if e.part != partAuto {
		return e.part
	}
	if e.from.parallelism == e.to.parallelism {
		return partForward
	}
	return partRebalance
}

func (j *Job) addNode(name string, kind nodeKind) *node {
	n := &node{id: len(j.nodes), job: j, name: name, uid: name, kind: kind}
	j.nodes = append(j.nodes, n)
	return n
}

// ReportError records a problem found while building the job (by a
// library of operators, say an invalid window size), so that Validate and
// Execute report it, naming operator op.
func (j *Job) ReportError(op string, err error) {
	j.errs = append(j.errs, validationError(op, "%v", err))
}

func (j *Job) errorf(op, format string, args ...any) {
	j.errs = append(j.errs, validationError(op, format, args...))
}

// producer is one upstream of a stream: an output slot of a node and the
// partitioning requested for edges out of it.
type producer struct {
	node *node
	slot int
	part partitioning
	// for hash partitioning
	keyGroupOf func() any
	keyType    reflect.Type
}

// Stream is a typed stream of records: the output of an operator, a side
// output, or a union of several.
type Stream[T any] struct {
	job  *Job
	from []producer
}

func newStream[T any](n *node, slot int) *Stream[T] {
	return &Stream[T]{job: n.job, from: []producer{{node: n, slot: slot}}}
}

// Job returns the job the stream belongs to.
func (s *Stream[T]) Job() *Job { return s.job }

// head returns the single node that produced the stream, or nil for a union.
func (s *Stream[T]) head() *node {
	if len(s.from) == 1 {
		return s.from[0].node
	}
	return nil
}

// withPart returns a copy of s whose next edges use p.
func (s *Stream[T]) withPart(p partitioning) *Stream[T] {
	c := &Stream[T]{job: s.job, from: append([]producer(nil), s.from...)}
	for i := range c.from {
		c.from[i].part = p
		c.from[i].keyGroupOf = nil
	}
	return c
}

// Rebalance distributes records round robin to the next operator's subtasks.
func (s *Stream[T]) Rebalance() *Stream[T] { return s.withPart(partRebalance) }

// Broadcast sends every record to every subtask of the next operator.
func (s *Stream[T]) Broadcast() *Stream[T] { return s.withPart(partBroadcast) }

// Forward sends subtask i's records to subtask i of the next operator, which
// must have the same parallelism.
func (s *Stream[T]) Forward() *Stream[T] { return s.withPart(partForward) }

// SetParallelism sets the parallelism of the operator that produced s. It
// panics on a union, which has no single operator; use it right after the
// call that created the operator.
func (s *Stream[T]) SetParallelism(p int) *Stream[T] {
	if n := s.head(); n != nil {
		n.parallelism = p
		n.fixedPar = true
	} else {
		s.job.errorf("", "SetParallelism on a union of streams")
	}
	return s
}

// SetUID sets the stable id of the operator that produced s. State and
// checkpoints are kept under the uid; it defaults to the operator's name.
func (s *Stream[T]) SetUID(uid string) *Stream[T] {
	if n := s.head(); n != nil {
		n.uid = uid
	}
	return s
}

// DisableChaining keeps the operator that produced s out of operator chains.
func (s *Stream[T]) DisableChaining() *Stream[T] {
	if n := s.head(); n != nil {
		n.noChain = true
	}
	return s
}

// connect adds edges from every producer of s into input idx of n.
func (s *Stream[T]) connect(n *node, idx int) {
	if s.job != n.job {
		n.job.errorf(n.name, "its input stream belongs to another job")
		return
	}
	for _, p := range s.from {
		e := &edge{from: p.node, fromSlot: p.slot, to: n, toInput: idx, part: p.part, keyGroupOf: p.keyGroupOf, keyType: p.keyType}
		p.node.slots[p.slot].edges = append(p.node.slots[p.slot].edges, e)
		n.inputs[idx] = append(n.inputs[idx], e)
	}
}

// Union merges streams of the same type into one. The operator that
// consumes the union reads all of them.
func Union[T any](first *Stream[T], more ...*Stream[T]) *Stream[T] {
	u := &Stream[T]{job: first.job, from: append([]producer(nil), first.from...)}
	for _, s := range more {
		if s.job != first.job {
			first.job.errorf("", "Union of streams from different jobs")
			continue
		}
		u.from = append(u.from, s.from...)
	}
	return u
}

// KeyedStream is a stream partitioned by key: records with equal keys go to
// the same subtask, and keyed operators downstream keep state per key.
type KeyedStream[T any, K comparable] struct {
	s     *Stream[T]
	keyOf func(T) K
	codec state.Codec[K]
}

// Stream returns the keyed stream's records as a plain stream (still
// partitioned by key for the next operator).
func (k *KeyedStream[T, K]) Stream() *Stream[T] { return k.s }

// KeyOf returns the key selector.
func (k *KeyedStream[T, K]) KeyOf() func(T) K { return k.keyOf }

// Codec returns the key codec.
func (k *KeyedStream[T, K]) Codec() state.Codec[K] { return k.codec }

// KeyBy partitions s by the key that keyOf selects. K must have a built-in
// codec (strings, integers, floats, bools, byte slices and types whose
// underlying type is one of those); for other key types use KeyByCodec.
func KeyBy[T any, K comparable](s *Stream[T], keyOf func(T) K) *KeyedStream[T, K] {
	codec, err := state.CodecFor[K]()
	if err != nil {
		s.job.errorf("", "KeyBy: %v; use KeyByCodec with a codec for the key type", err)
		codec = state.JSONCodec[K]{}
	}
	return KeyByCodec(s, keyOf, codec)
}

// KeyByCodec is KeyBy with an explicit key codec.
func KeyByCodec[T any, K comparable](s *Stream[T], keyOf func(T) K, codec state.Codec[K]) *KeyedStream[T, K] {
	c := &Stream[T]{job: s.job, from: append([]producer(nil), s.from...)}
	if keyOf == nil {
		s.job.errorf("", "KeyBy with a nil key selector")
	}
	maxPar := s.job.cfg.MaxParallelism
	for i := range c.from {
		c.from[i].part = partHash
		c.from[i].keyType = reflect.TypeFor[K]()
		c.from[i].keyGroupOf = func() any {
			h := state.KeyHasher(codec)
			return func(v T) int { return state.KeyGroupForHash(h(keyOf(v)), maxPar) }
		}
	}
	return &KeyedStream[T, K]{s: c, keyOf: keyOf, codec: codec}
}

// Validate checks the job graph and reports every problem found, each
// naming its operator. Execute validates too.
func (j *Job) Validate() error {
	errs := append([]error(nil), j.errs...)
	if err := j.cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	uids := map[string]*node{}
	hasSource := false
	for _, n := range j.nodes {
		if n.nilFunc != "" {
			errs = append(errs, validationError(n.name, "nil %s", n.nilFunc))
		}
		if n.name == "" {
			errs = append(errs, validationError(fmt.Sprint("#", n.id), "operator has an empty name"))
		}
		if o, dup := uids[n.uid]; dup {
			errs = append(errs, validationError(n.name, "uid %q is also used by operator %q; set distinct names or uids", n.uid, o.name))
		}
		uids[n.uid] = n
		p := n.effectiveParallelism()
		if p < 1 {
			errs = append(errs, validationError(n.name, "parallelism %d must be at least 1", p))
		}
		if p > j.cfg.MaxParallelism {
			errs = append(errs, validationError(n.name, "parallelism %d exceeds max parallelism %d", p, j.cfg.MaxParallelism))
		}
		switch n.kind {
		case kindSource:
			hasSource = true
		case kindOneInput:
			if len(n.inputs[0]) == 0 {
				errs = append(errs, validationError(n.name, "operator has no input"))
			}
		case kindTwoInput:
			if len(n.inputs[0]) == 0 || len(n.inputs[1]) == 0 {
				errs = append(errs, validationError(n.name, "two-input operator is missing an input"))
			}
		}
		for idx, in := range n.inputs {
			for _, e := range in {
				rp := e.part
				if n.keyed && rp != partHash {
					errs = append(errs, validationError(n.name, "keyed operator's input %d is not a keyed stream (use KeyBy)", idx+1))
				}
				if rp == partForward && e.from.effectiveParallelism() != p {
					errs = append(errs, validationError(n.name, "forward input from %q has parallelism %d, this operator %d", e.from.name, e.from.effectiveParallelism(), p))
				}
			}
		}
		if n.isSink {
			for _, s := range n.slots {
				if len(s.edges) > 0 {
					errs = append(errs, validationError(n.name, "a sink has no output to consume"))
				}
			}
		}
	}
	if len(j.nodes) > 0 && !hasSource {
		errs = append(errs, validationError("", "job has no source"))
	}
	if len(j.nodes) == 0 {
		errs = append(errs, validationError("", "job is empty"))
	}
	errs = append(errs, j.checkExchangeCodecs()...)
	if cyc := j.findCycle(); cyc != nil {
		errs = append(errs, validationError(cyc.name, "operator is part of a cycle"))
	}
	return errors.Join(errs...)
}

func (n *node) effectiveParallelism() int {
	if n.parallelism != 0 {
		return n.parallelism
	}
	return n.job.cfg.Parallelism
}

// findCycle returns a node on a cycle, or nil.
func (j *Job) findCycle() *node {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(j.nodes))
	var visit func(n *node) *node
	visit = func(n *node) *node {
		color[n.id] = grey
		for _, s := range n.slots {
			for _, e := range s.edges {
				switch color[e.to.id] {
				case grey:
					return e.to
				case white:
					if c := visit(e.to); c != nil {
						return c
					}
				}
			}
		}
		color[n.id] = black
		return nil
	}
	for _, n := range j.nodes {
		if color[n.id] == white {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}
