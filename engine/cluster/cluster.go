// Package cluster is the engine's view of a job run by several worker
// processes: who the workers are (membership under leases), which of them
// coordinates the job (an election whose revision is the fencing token),
// which worker runs which subtask and key groups in the current attempt
// (the assignment), where the latest completed checkpoint is (a pointer
// changed only by compare-and-swap, and only by the current leader), and
// which job definition the running job has.
//
// It holds interfaces and types only, and the pure functions over them
// (Assign, Definition.Diff): no coordination service is imported, so that
// the engine may use it. Package etcdcluster implements it on etcd.
package cluster

import (
	"context"
	"errors"
	"fmt"
)

// Member is one worker process of a job.
type Member struct {
	// ID names the worker; unique among the job's live members.
	ID string `json:"id"`
	// Addr is where other workers reach it (its exchange endpoint).
	Addr string `json:"addr"`
	// Slots is how many subtasks it runs at most (at least 1).
	Slots int `json:"slots"`
	// Revision is the coordination store's revision at which it joined; set
	// by the store, zero in a Join request.
	Revision int64 `json:"-"`
}

// Validate reports a member that cannot join.
func (m Member) Validate() error {
	switch {
	case m.ID == "":
		return errors.New("cluster: member has no id")
	case m.Slots < 1:
		return fmt.Errorf("cluster: member %q has %d slots; it needs at least 1", m.ID, m.Slots)
	}
	for _, r := range m.ID {
		if r == '/' || r < ' ' {
			return fmt.Errorf("cluster: member id %q contains %q (not allowed in ids)", m.ID, r)
		}
	}
	return nil
}

// EventKind tells a join from a leave.
type EventKind int

const (
	// Joined: a worker became a member.
	Joined EventKind = iota + 1
	// Left: a worker left, or its lease expired.
	Left
)

func (k EventKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Left:
		return "left"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// MemberEvent is one change of membership, in the store's order.
type MemberEvent struct {
	Kind   EventKind
	Member Member
	// Revision is the store's revision of the change.
	Revision int64
}

// Members is the membership at one revision of the store.
type Members struct {
	List     []Member // sorted by ID
	Revision int64
}

// Leadership names the job's coordinator: the member elected, and its
// fencing token — the election key's create revision, which only grows
// from one leader to the next. Every write a coordinator makes is
// conditional on its token still being the leader's.
type Leadership struct {
	ID    string
	Token int64
}

// SubtaskAssignment places one subtask index (all the job's vertices' subtask
// of that index, as one slot) and the key groups it owns on a worker.
type SubtaskAssignment struct {
	Subtask   int           `json:"subtask"`
	Worker    string        `json:"worker"`
	KeyGroups KeyGroupRange `json:"key_groups"`
}

// KeyGroupRange is the inclusive range [Start, End] of key groups, the same
// as state.KeyGroupRange (this package does not import state).
type KeyGroupRange struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Len returns the number of key groups in the range.
func (r KeyGroupRange) Len() int { return max(0, r.End-r.Start+1) }

func (r KeyGroupRange) String() string { return fmt.Sprintf("[%d,%d]", r.Start, r.End) }

// Assignment is one attempt's placement of subtasks on workers, written by
// the coordinator and watched by the workers. A new attempt (a restart or a
// rescale) writes a new assignment with a higher Attempt.
type Assignment struct {
	Attempt        int64               `json:"attempt"`
	Parallelism    int                 `json:"parallelism"`
	MaxParallelism int                 `json:"max_parallelism"`
	Subtasks       []SubtaskAssignment `json:"subtasks"` // by subtask index
	// Token is the fencing token of the coordinator that wrote it.
	Token int64 `json:"token"`
}

// Worker returns the worker of subtask i.
func (a Assignment) Worker(i int) string { return a.Subtasks[i].Worker }

// Of returns the subtask indexes assigned to worker id, ascending.
func (a Assignment) Of(id string) []int {
	var out []int
	for _, s := range a.Subtasks {
		if s.Worker == id {
			out = append(out, s.Subtask)
		}
	}
	return out
}

// CheckpointPointer names the job's latest completed checkpoint.
type CheckpointPointer struct {
	// ID is the checkpoint's id; ids only grow.
	ID int64 `json:"id"`
	// Attempt is the attempt that completed it.
	Attempt int64 `json:"attempt"`
	// Manifest is where its manifest is (an s3:// or file URL).
	Manifest string `json:"manifest"`
}

// Cluster is a job's coordination store, as one worker sees it.
type Cluster interface {
	// Join makes the worker a member under a lease that the store keeps
	// alive until Leave, Close, or the store loses touch with it for
	// longer than the lease's TTL.
	Join(ctx context.Context, m Member) (Membership, error)
	// Members lists the live members.
	Members(ctx context.Context) (Members, error)
	// WatchMembers sends each join and leave after revision since (from the
	// list's revision, say) until ctx ends or the watch fails; it then
	// closes the channel, and the error function says why (nil once ctx
	// ended).
	WatchMembers(ctx context.Context, since int64) (<-chan MemberEvent, func() error)
	// Leader returns the current leader; ErrNoLeader when there is none.
	Leader(ctx context.Context) (Leadership, error)
	// ObserveLeader sends the leader each time it changes (the current one
	// first), until ctx ends; then it closes the channel.
	ObserveLeader(ctx context.Context) <-chan Leadership
	// Assignment returns the current attempt's assignment; ErrNoAssignment
	// before the first.
	Assignment(ctx context.Context) (Assignment, error)
	// WatchAssignment sends the current assignment (if any) and each new
	// one, until ctx ends or the watch fails; then it closes the channel,
	// and the error function says why (nil once ctx ended).
	WatchAssignment(ctx context.Context) (<-chan Assignment, func() error)
	// LatestCheckpoint returns the latest completed checkpoint;
	// ErrNoCheckpoint before the first.
	LatestCheckpoint(ctx context.Context) (CheckpointPointer, error)
	// CheckDefinition stores d as the job's definition if the job has none,
	// and otherwise compares it with the stored one: a
	// *DefinitionMismatchError names each difference.
	CheckDefinition(ctx context.Context, d Definition) error
	// Close ends the worker's memberships and leaderships and the
	// connection.
	Close() error
}

// Membership is a worker's place in the job, held under a lease.
type Membership interface {
	Member() Member
	// Done closes when the lease is lost (expired, revoked, or left), or
	// could not be renewed for its TTL (the store unreachable): the
	// membership is over for good then, and the worker joins again.
	Done() <-chan struct{}
	// Fence returns nil if the worker's lease is still alive and attempt is
	// the current one, checked linearizably in the store; otherwise an
	// error that wraps ErrFenced and says which. A worker calls it before
	// making sink output visible.
	Fence(ctx context.Context, attempt int64) error
	// Campaign waits until this member is the job's coordinator, or ctx
	// ends. The leadership lasts as long as the membership's lease.
	Campaign(ctx context.Context) (Leader, error)
	// Leave ends the membership (and any leadership).
	Leave(ctx context.Context) error
}

// Leader is the job's coordinator: what only it may write.
type Leader interface {
	Leadership() Leadership
	// Done closes when the leadership is lost.
	Done() <-chan struct{}
	// PublishAssignment writes a as the new attempt's assignment. a.Attempt
	// must be higher than the current attempt; it fails (wrapping
	// ErrNotLeader) unless this leader still holds the election.
	PublishAssignment(ctx context.Context, a Assignment) error
	// CommitCheckpoint moves the checkpoint pointer from the checkpoint
	// prev (0: none yet) to p, in one transaction that also checks the
	// leadership and that p.Attempt is the current attempt. A lost race
	// wraps ErrConflict; a lost leadership wraps ErrNotLeader; an attempt
	// superseded wraps ErrFenced. A commit whose answer was lost and that
	// is found done on retry counts once.
	CommitCheckpoint(ctx context.Context, prev int64, p CheckpointPointer) error
	// Resign gives up the leadership (the membership stays).
	Resign(ctx context.Context) error
}

var (
	// ErrUnavailable: the coordination store could not be reached before
	// the call's context ended; nothing was changed by this call, or a
	// change's outcome is unknown (a retry of a commit finds it out).
	ErrUnavailable = errors.New("coordination store unavailable")
	// ErrNotLeader: the caller no longer holds the election.
	ErrNotLeader = errors.New("not the job's coordinator")
	// ErrFenced: the caller's lease is lost or its attempt superseded.
	ErrFenced = errors.New("fenced")
	// ErrConflict: a compare-and-swap lost (the value had moved on).
	ErrConflict = errors.New("conflict")
	// ErrNoLeader, ErrNoAssignment, ErrNoCheckpoint: nothing stored yet.
	ErrNoLeader     = errors.New("no coordinator elected")
	ErrNoAssignment = errors.New("no assignment yet")
	ErrNoCheckpoint = errors.New("no completed checkpoint")
	// ErrMemberExists: another live member has the id.
	ErrMemberExists = errors.New("member id in use")
	// ErrDefinitionMismatch is what a *DefinitionMismatchError Is.
	ErrDefinitionMismatch = errors.New("job definition differs from the running job's")
	// ErrInsufficientSlots: the members have fewer slots than the job's
	// parallelism.
	ErrInsufficientSlots = errors.New("not enough slots")
)

// UnavailableError is a call that could not reach the store.
type UnavailableError struct {
	Op       string // what was attempted, e.g. "commit checkpoint 7"
	Attempts int
	Err      error // the last failure
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("cluster: %s: coordination store unavailable after %d attempts: %v", e.Op, e.Attempts, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }
