package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/state"
)

// restorePlan is a checkpoint or savepoint a job (attempt) starts from.
type restorePlan struct {
	dir string
	m   *Manifest
	ops map[string]*ManifestOperator
}

func newRestorePlan(dir string, m *Manifest) *restorePlan {
	p := &restorePlan{dir: dir, m: m, ops: map[string]*ManifestOperator{}}
	for i := range m.Operators {
		p.ops[m.Operators[i].UID] = &m.Operators[i]
	}
	return p
}

// loadRestorePlan reads and verifies the checkpoint or savepoint in dir.
func loadRestorePlan(dir string) (*restorePlan, error) {
	m, err := VerifyCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	return newRestorePlan(dir, m), nil
}

// keyedParts returns the snapshots of uid's subtasks that hold key groups in
// want.
func (p *restorePlan) keyedParts(uid string, want state.KeyGroupRange) []state.SnapshotPart {
	op := p.ops[uid]
	if op == nil {
		return nil
	}
	var parts []state.SnapshotPart
	for _, st := range op.Subtasks {
		if !st.Keyed || st.StateDir == "" || st.KeyGroups.Intersect(want).Len() == 0 {
			continue
		}
		parts = append(parts, state.SnapshotPart{Dir: filepath.Join(p.dir, st.StateDir), Format: st.StateFormat, KeyGroups: st.KeyGroups})
	}
	return parts
}

// keyedOverlays returns the overlay files of uid's subtasks that hold key
// groups in want.
func (p *restorePlan) keyedOverlays(uid string, want state.KeyGroupRange) []string {
	op := p.ops[uid]
	if op == nil {
		return nil
	}
	var out []string
	for _, st := range op.Subtasks {
		if st.Keyed && st.Overlay != "" && st.KeyGroups.Intersect(want).Len() > 0 {
			out = append(out, filepath.Join(p.dir, st.Overlay))
		}
	}
	return out
}

// operatorState returns subtask's share of uid's operator state: the old
// subtask's entries at the same parallelism, else all entries dealt round
// robin.
func (p *restorePlan) operatorState(uid string, subtask, parallelism int) [][]byte {
	op := p.ops[uid]
	if op == nil {
		return nil
	}
	if op.Parallelism == parallelism {
		for _, st := range op.Subtasks {
			if st.Subtask == subtask {
				return st.OperatorState
			}
		}
		return nil
	}
	var out [][]byte
	i := 0
	for _, st := range op.Subtasks {
		for _, e := range st.OperatorState {
			if i%parallelism == subtask {
				out = append(out, e)
			}
			i++
		}
	}
	return out
}

// positions returns every old subtask's position in source uid.
func (p *restorePlan) positions(uid string) []SourcePosition {
	op := p.ops[uid]
	if op == nil {
		return nil
	}
	var out []SourcePosition
	for _, st := range op.Subtasks {
		if st.HasPosition {
			out = append(out, SourcePosition{Subtask: st.Subtask, Parallelism: op.Parallelism, Data: st.Position})
		}
	}
	return out
}

// coordinatorState returns the snapshot of source uid's split
// coordinator, or nil.
func (p *restorePlan) coordinatorState(uid string) []byte {
	if op := p.ops[uid]; op != nil && op.HasCoordinator {
		return op.CoordinatorState
	}
	return nil
}

// states returns the union of the keyed states uid had.
func (p *restorePlan) states(uid string) []state.StateDesc {
	op := p.ops[uid]
	if op == nil {
		return nil
	}
	var out []state.StateDesc
	for _, st := range op.Subtasks {
		for _, d := range st.States {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// ErrIncompatibleState wraps every reason a checkpoint or savepoint cannot
// be restored into a job.
var ErrIncompatibleState = errors.New("engine: incompatible state")

// checkJob refuses a restore into a job that cannot take the state:
// another number of key groups, or state of operators the job lacks (unless
// allowed).
func (p *restorePlan) checkJob(j *Job, allowNonRestored bool) error {
	if p.m.MaxParallelism != j.cfg.MaxParallelism {
		return fmt.Errorf("%w: %s was taken with max parallelism %d, the job has %d (it cannot change)", ErrIncompatibleState, p.dir, p.m.MaxParallelism, j.cfg.MaxParallelism)
	}
	if allowNonRestored {
		return nil
	}
	uids := map[string]*node{}
	for _, n := range j.nodes {
		uids[n.uid] = n
	}
	var missing []string
	for _, op := range p.m.Operators {
		if n := uids[op.UID]; n != nil {
			if op.HasCoordinator && n.splits == nil {
				return fmt.Errorf("%w: %s holds the split coordinator state of source %q, which no longer has a split coordinator; set Checkpoint.AllowNonRestoredState to drop it", ErrIncompatibleState, p.dir, n.name)
			}
			continue
		}
		has := op.HasCoordinator
		for _, st := range op.Subtasks {
			has = has || st.Keyed || len(st.OperatorState) > 0 || st.HasPosition
		}
		if has {
			missing = append(missing, fmt.Sprintf("%q", op.Name))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s holds state of operator(s) %s that the job does not have; set Checkpoint.AllowNonRestoredState to drop it", ErrIncompatibleState, p.dir, strings.Join(missing, ", "))
	}
	return nil
}

// checkStates compares the keyed states an operator registered in Open with
// the ones it had in the checkpoint.
func (p *restorePlan) checkStates(inst *opInstance, registered []state.StateDesc, allowNonRestored bool) error {
	for _, old := range p.states(inst.node.uid) {
		i := slices.IndexFunc(registered, func(d state.StateDesc) bool { return d.Name == old.Name })
		if i < 0 {
			if allowNonRestored {
				continue
			}
			return fmt.Errorf("%w: operator %q: %s holds state %q (%s %s) that the operator no longer registers; set Checkpoint.AllowNonRestoredState to drop it",
				ErrIncompatibleState, inst.node.name, p.dir, old.Name, old.Kind, old.Type)
		}
		if d := registered[i]; d.Kind != old.Kind || d.Type != old.Type {
			return fmt.Errorf("%w: operator %q: state %q was %s of %s in %s, is now %s of %s",
				ErrIncompatibleState, inst.node.name, old.Name, old.Kind, old.Type, p.dir, d.Kind, d.Type)
		}
	}
	return nil
}

// keyedStore is a keyed operator instance's state store.
type keyedStore struct {
	store   state.Store
	backend *state.Backend
	dir     string // Pebble working directory ("" for memory)
}

// newKeyedStore opens the store of a keyed operator instance, restored
// from the job's restore plan when there is one.
func (t *task) newKeyedStore(inst *opInstance, kgs state.KeyGroupRange) (state.Store, string, error) {
	uid := inst.node.uid
	var parts []state.SnapshotPart
	var overlays []string
	if rp := t.exec.restore; rp != nil {
		parts = rp.keyedParts(uid, kgs)
		overlays = rp.keyedOverlays(uid, kgs)
	}
	var s state.Store
	var dir string
	var err error
	switch {
	case t.cfg.StateBackend == "memory" && len(parts) == 0:
		return state.NewMemStore(), "", nil
	case t.cfg.StateBackend == "memory":
		s, err = state.NewMemStoreFrom(parts, kgs)
	default:
		dir = filepath.Join(t.exec.stateDir, fmt.Sprintf("%s-%d", sanitize(uid), inst.subtask))
		if err := os.RemoveAll(dir); err != nil {
			return nil, "", err
		}
		if len(parts) == 0 {
			s, err = state.OpenPebble(dir, state.PebbleOptions{})
			return s, dir, err
		}
		s, err = state.OpenPebbleFrom(dir, state.PebbleOptions{}, parts, kgs)
	}
	if err != nil {
		return nil, "", err
	}
	for _, path := range overlays {
		data, err := state.ReadOverlayFile(path)
		if err == nil {
			err = state.ApplyOverlay(s, path, data, kgs)
		}
		if err != nil {
			s.Close()
			return nil, "", err
		}
	}
	return s, dir, nil
}

// sanitize makes a uid usable as a file name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// restoredPosition returns the source positions of node n in the restore
// plan.
func (t *task) restoredPosition(n *node) []SourcePosition {
	if t.exec.restore == nil {
		return nil
	}
	return t.exec.restore.positions(n.uid)
}
