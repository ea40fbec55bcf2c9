package state_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/internal/clock"
	"github.com/sluicehq/sluice/state"
)

// TestScripts runs the state scripts in testdata/script: keyed value state
// with TTL, event-time timers, snapshots and restores at another
// parallelism, on a "job" of several subtasks that route keys to key
// groups as the engine does. The commands:
//
//	open parallelism=N [maxp=M] [store=mem|pebble] [ttl=D] [update-on-read]
//	    a fresh job; prints each subtask's key groups
//	put k=v ...          ValueState update of each key, in order
//	get k ...            each key's value, or (none)
//	clear k ...          ValueState clear
//	advance D            the processing-time clock (TTL) moves by D
//	timer k@T[/ns] ...   event-time timers for key k at T (namespace ns)
//	delete-timer k@T[/ns] ...
//	timers k from=A to=B one timer for key k at every time in [A, B], in
//	                     descending order (the worst case for the queue)
//	fire T [summary]     pops every timer at or before T across subtasks, in
//	                     (time, key group, key) order, as the watermark does;
//	                     summary prints their count and whether the queue
//	                     returned them in order
//	snapshot             flushes and snapshots every subtask; prints its id
//	restore id=I parallelism=N [store=mem|pebble]
//	                     a new job restored from snapshot I at parallelism N
//	dump                 every key ever put: subtask, key group, value
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/script", func(t *testing.T, path string) {
		j := &scriptJob{t: t, root: t.TempDir(), clock: clock.NewManual(time.Unix(1_700_000_000, 0))}
		defer j.close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := j.run(d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

type scriptSubtask struct {
	kgs    state.KeyGroupRange
	store  state.Store
	b      *state.Backend
	v      *state.ValueState[string]
	timers *state.TimerQueue
}

type scriptJob struct {
	t     *testing.T
	root  string
	clock *clock.Manual

	maxp   int
	ttl    state.TTL
	kind   string
	tasks  []*scriptSubtask
	known  []string                     // keys ever put, in first-put order
	snaps  map[int][]state.SnapshotPart // by snapshot id
	nextID int
	opened int
	hasher func(string) uint64
}

func (j *scriptJob) run(d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "open":
		j.close()
		j.maxp = state.DefaultMaxParallelism
		j.kind = "mem"
		j.ttl = state.TTL{}
		j.snaps = map[int][]state.SnapshotPart{}
		j.known = nil
		j.hasher = state.KeyHasher(state.MustCodecFor[string]())
		p := 1
		for _, a := range d.CmdArgs {
			var err error
			switch a.Key {
			case "parallelism":
				p, err = strconv.Atoi(a.Vals[0])
			case "maxp":
				j.maxp, err = strconv.Atoi(a.Vals[0])
			case "store":
				j.kind = a.Vals[0]
			case "ttl":
				j.ttl.TTL, err = time.ParseDuration(a.Vals[0])
			case "update-on-read":
				j.ttl.UpdateOnRead = true
			default:
				return "", fmt.Errorf("open: unknown argument %q", a.Key)
			}
			if err != nil {
				return "", err
			}
		}
		if err := j.start(p, nil); err != nil {
			return "", err
		}
		return j.describe(), nil
	case "put":
		var sb strings.Builder
		for _, a := range d.CmdArgs {
			st, err := j.at(a.Key)
			if err != nil {
				return "", err
			}
			if err := st.v.Update(a.Vals[0]); err != nil {
				return "", err
			}
			if !slices.Contains(j.known, a.Key) {
				j.known = append(j.known, a.Key)
			}
		}
		return sb.String() + "ok\n", nil
	case "get":
		var sb strings.Builder
		for _, a := range d.CmdArgs {
			v, err := j.get(a.Key)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&sb, "%s: %s\n", a.Key, v)
		}
		return sb.String(), nil
	case "clear":
		for _, a := range d.CmdArgs {
			st, err := j.at(a.Key)
			if err != nil {
				return "", err
			}
			if err := st.v.Clear(); err != nil {
				return "", err
			}
		}
		return "ok\n", nil
	case "advance":
		dur, err := time.ParseDuration(d.CmdArgs[0].Key)
		if err != nil {
			return "", err
		}
		j.clock.Advance(dur)
		return "ok\n", nil
	case "timer", "delete-timer":
		for _, a := range d.CmdArgs {
			key, ts, ns, err := parseTimer(a.Key)
			if err != nil {
				return "", err
			}
			st, err := j.at(key)
			if err != nil {
				return "", err
			}
			if d.Cmd == "timer" {
				err = st.timers.Register(ts, []byte(ns))
			} else {
				err = st.timers.Delete(ts, []byte(ns))
			}
			if err != nil {
				return "", err
			}
		}
		return "ok\n", nil
	case "timers":
		var from, to int64
		for _, a := range d.CmdArgs[1:] {
			v, err := strconv.ParseInt(a.Vals[0], 10, 64)
			if err != nil {
				return "", err
			}
			switch a.Key {
			case "from":
				from = v
			case "to":
				to = v
			}
		}
		st, err := j.at(d.CmdArgs[0].Key)
		if err != nil {
			return "", err
		}
		for ts := to; ts >= from; ts-- {
			if err := st.timers.Register(ts, nil); err != nil {
				return "", err
			}
		}
		return "ok\n", nil
	case "fire":
		upTo, err := strconv.ParseInt(d.CmdArgs[0].Key, 10, 64)
		if err != nil {
			return "", err
		}
		return j.fire(upTo, d.HasArg("summary"))
	case "snapshot":
		return j.snapshot()
	case "restore":
		id, p, kind := 0, 0, j.kind
		for _, a := range d.CmdArgs {
			var err error
			switch a.Key {
			case "id":
				id, err = strconv.Atoi(a.Vals[0])
			case "parallelism":
				p, err = strconv.Atoi(a.Vals[0])
			case "store":
				kind = a.Vals[0]
			default:
				return "", fmt.Errorf("restore: unknown argument %q", a.Key)
			}
			if err != nil {
				return "", err
			}
		}
		parts, ok := j.snaps[id]
		if !ok {
			return "", fmt.Errorf("no snapshot %d", id)
		}
		j.closeTasks()
		j.kind = kind
		if err := j.start(p, parts); err != nil {
			return "", err
		}
		return j.describe(), nil
	case "dump":
		var sb strings.Builder
		for _, k := range j.known {
			kg := state.KeyGroupForHash(j.hasher(k), j.maxp)
			v, err := j.get(k)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&sb, "subtask %d kg %d %s: %s\n", state.SubtaskForKeyGroup(j.maxp, len(j.tasks), kg), kg, k, v)
		}
		return sb.String(), nil
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}

func parseTimer(s string) (key string, ts int64, ns string, err error) {
	key, rest, ok := strings.Cut(s, "@")
	if !ok {
		return "", 0, "", fmt.Errorf("timer %q: want key@time[/namespace]", s)
	}
	rest, ns, _ = strings.Cut(rest, "/")
	ts, err = strconv.ParseInt(rest, 10, 64)
	return key, ts, ns, err
}

// start opens parallelism subtasks, each restored from parts when given.
func (j *scriptJob) start(parallelism int, parts []state.SnapshotPart) error {
	j.opened++
	for i := range parallelism {
		kgs := state.KeyGroupRangeFor(j.maxp, parallelism, i)
		var store state.Store
		var err error
		switch {
		case j.kind == "mem" && parts == nil:
			store = state.NewMemStore()
		case j.kind == "mem":
			store, err = state.NewMemStoreFrom(parts, kgs)
		case j.kind == "pebble" && parts == nil:
			store, err = state.OpenPebble(filepath.Join(j.root, fmt.Sprintf("db-%d-%d", j.opened, i)), state.PebbleOptions{})
		case j.kind == "pebble":
			store, err = state.OpenPebbleFrom(filepath.Join(j.root, fmt.Sprintf("db-%d-%d", j.opened, i)), state.PebbleOptions{}, parts, kgs)
		default:
			err = fmt.Errorf("unknown store %q", j.kind)
		}
		if err != nil {
			return err
		}
		b, err := state.NewBackend(store, state.Options{OperatorID: "op", MaxParallelism: j.maxp, KeyGroups: kgs, Clock: j.clock, CacheEntries: 4})
		if err != nil {
			return err
		}
		var opts []state.Option
		if j.ttl.TTL > 0 {
			opts = append(opts, state.WithTTL(j.ttl))
		}
		v, err := state.NewValueState(b, "v", state.MustCodecFor[string](), opts...)
		if err != nil {
			return err
		}
		q, err := state.NewTimerQueue(b, "event")
		if err != nil {
			return err
		}
		j.tasks = append(j.tasks, &scriptSubtask{kgs: kgs, store: store, b: b, v: v, timers: q})
	}
	return nil
}

func (j *scriptJob) describe() string {
	var sb strings.Builder
	for i, st := range j.tasks {
		fmt.Fprintf(&sb, "subtask %d: key groups %v\n", i, st.kgs)
	}
	return sb.String()
}

// at routes key to its subtask and makes it the current key there.
func (j *scriptJob) at(key string) (*scriptSubtask, error) {
	if len(j.tasks) == 0 {
		return nil, fmt.Errorf("no job: open one first")
	}
	kg := state.KeyGroupForHash(j.hasher(key), j.maxp)
	st := j.tasks[state.SubtaskForKeyGroup(j.maxp, len(j.tasks), kg)]
	st.b.SetCurrentKey(kg, []byte(key))
	return st, nil
}

func (j *scriptJob) get(key string) (string, error) {
	st, err := j.at(key)
	if err != nil {
		return "", err
	}
	v, ok, err := st.v.Value()
	if err != nil {
		return "", err
	}
	if !ok {
		return "(none)", nil
	}
	return v, nil
}

func (j *scriptJob) fire(upTo int64, summary bool) (string, error) {
	var all []state.Timer
	inOrder := true
	for _, st := range j.tasks {
		last := int64(-1 << 63)
		for {
			tm, ok, err := st.timers.Pop(upTo)
			if err != nil {
				return "", err
			}
			if !ok {
				break
			}
			if tm.Time < last {
				inOrder = false
			}
			last = tm.Time
			all = append(all, tm)
		}
	}
	if summary {
		if len(all) == 0 {
			return "no timers\n", nil
		}
		return fmt.Sprintf("%d timers, %d..%d, in order: %v\n", len(all), all[0].Time, all[len(all)-1].Time, inOrder), nil
	}
	slices.SortStableFunc(all, func(a, b state.Timer) int {
		if a.Time != b.Time {
			return int(a.Time - b.Time)
		}
		if a.KeyGroup != b.KeyGroup {
			return a.KeyGroup - b.KeyGroup
		}
		return strings.Compare(string(a.Key), string(b.Key))
	})
	var sb strings.Builder
	for _, tm := range all {
		fmt.Fprintf(&sb, "%d %s", tm.Time, tm.Key)
		if len(tm.Namespace) > 0 {
			fmt.Fprintf(&sb, "/%s", tm.Namespace)
		}
		fmt.Fprintf(&sb, " (kg %d)\n", tm.KeyGroup)
	}
	if len(all) == 0 {
		return "no timers\n", nil
	}
	return sb.String(), nil
}

func (j *scriptJob) snapshot() (string, error) {
	j.nextID++
	id := j.nextID
	var parts []state.SnapshotPart
	for i, st := range j.tasks {
		if err := st.b.Flush(); err != nil {
			return "", err
		}
		if err := st.store.Flush(); err != nil {
			return "", err
		}
		sn, format, err := state.SnapshotterFor(st.store)
		if err != nil {
			return "", err
		}
		write, err := sn.Snapshot()
		if err != nil {
			return "", err
		}
		dir := filepath.Join(j.root, fmt.Sprintf("snap-%d", id), strconv.Itoa(i))
		if _, err := write(dir); err != nil {
			return "", err
		}
		parts = append(parts, state.SnapshotPart{Dir: dir, Format: format, KeyGroups: st.kgs})
	}
	j.snaps[id] = parts
	return fmt.Sprintf("snapshot %d of %d subtasks\n", id, len(parts)), nil
}

func (j *scriptJob) closeTasks() {
	for _, st := range j.tasks {
		if err := st.store.Close(); err != nil {
			j.t.Errorf("close store: %v", err)
		}
	}
	j.tasks = nil
}

func (j *scriptJob) close() { j.closeTasks() }
