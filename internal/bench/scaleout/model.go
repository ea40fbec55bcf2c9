// Package scaleout is the model behind docs/scale-out.md: how a job run by
// many workers loads etcd, how many connections and exchange channels each
// worker holds, and how long recovery takes as a function of state size
// and S3 bandwidth. Its inputs are figures measured on the 3-member
// loopback etcd cluster by the engine/cluster/etcdcluster benchmarks
// (Measured), the design's constants (counted in that implementation), and
// assignments computed by cluster.Assign itself at the modelled size.
package scaleout

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine/cluster"
)

// Inputs are the model's measured figures and chosen sizes.
type Inputs struct {
	// Measured on the 3-member loopback etcd (fsync on), see Measured.
	CommitLatency     time.Duration // one job's pointer CAS, sequential
	ClusterCommitRate float64       // CAS commits/s of 32 jobs at once
	FenceLatency      time.Duration // one worker's linearizable fence
	JoinWatchP50      time.Duration // Join called → another worker's watch sees it
	PutBytesPerCommit float64       // keys + values written per commit (Stats)

	// The modelled job.
	Workers        int
	SlotsPerWorker int // above Parallelism/Workers: room to take a dead worker's subtasks
	Parallelism    int
	KeyGroups      int
	HashEdges      int // keyed exchanges in the job graph
	Interval       time.Duration
	LeaseTTL       time.Duration
	// Exchange buffers: credits per logical channel × buffer size, the
	// receive side of a credit-based channel.
	CreditsPerChannel int
	BufferBytes       int
}

// Measured are the figures of
//
//	go test -run '^$' -bench . -benchtime 400x ./engine/cluster/etcdcluster/
//	go test -run '^$' -bench Jobs -benchtime 4000x ./engine/cluster/etcdcluster/
//
// on the development machine (2 shared cores, etcd 3.4.23, 2026-12-08),
// see BENCHMARKS.md. After new measurements: SLUICE_UPDATE_DOCS=1 go test
// ./internal/bench/scaleout/ rewrites the tables of docs/scale-out.md.
var Measured = Inputs{
	CommitLatency:     6123 * time.Microsecond,
	ClusterCommitRate: 748,
	FenceLatency:      2123 * time.Microsecond,
	JoinWatchP50:      6627 * time.Microsecond,
	PutBytesPerCommit: 167.5,
}

// Default is the size docs/scale-out.md models: 100 workers, 10,000 key
// groups.
func Default() Inputs {
	in := Measured
	in.Workers, in.SlotsPerWorker, in.Parallelism, in.KeyGroups, in.HashEdges = 100, 5, 400, 10000, 2
	in.Interval, in.LeaseTTL = 10*time.Second, 10*time.Second
	in.CreditsPerChannel, in.BufferBytes = 2, 32<<10
	return in
}

// Large is the size where docs/scale-out.md shows the design stop
// scaling: 1,000 workers, 32,768 key groups (the most the state layout
// holds).
func Large() Inputs {
	in := Default()
	in.Workers, in.Parallelism, in.KeyGroups = 1000, 4000, 32768
	return in
}

// Row is one line of a table: what, how much, and how it was obtained.
type Row struct{ What, Value, How string }

// Sim is what cluster.Assign does at the modelled size.
type Sim struct {
	Parallelism         int
	AssignmentJSONBytes int
	// One worker dies: key groups moved, workers that receive them, most
	// subtasks one worker receives.
	DeathMoved, DeathReceivers, DeathMaxReceived int
	// One worker (same slots) joins, parallelism unchanged.
	JoinMoved int
	// One worker joins and the parallelism grows by its slots.
	RescaleMoved int
}

func members(n, slots int) []cluster.Member {
	ms := make([]cluster.Member, n)
	for i := range ms {
		ms[i] = cluster.Member{ID: fmt.Sprintf("worker-%03d", i), Addr: fmt.Sprintf("10.0.%d.%d:7000", i/250, i%250), Slots: slots}
	}
	return ms
}

func moved(a, b cluster.Assignment) int {
	owner := make([]string, a.MaxParallelism)
	for _, s := range a.Subtasks {
		for kg := s.KeyGroups.Start; kg <= s.KeyGroups.End; kg++ {
			owner[kg] = s.Worker
		}
	}
	n := 0
	for _, s := range b.Subtasks {
		for kg := s.KeyGroups.Start; kg <= s.KeyGroups.End; kg++ {
			if owner[kg] != s.Worker {
				n++
			}
		}
	}
	return n
}

// Simulate runs cluster.Assign at the modelled size.
func Simulate(in Inputs) (Sim, error) {
	p := in.Parallelism
	ms := members(in.Workers, in.SlotsPerWorker)
	a, err := cluster.Assign(nil, ms, p, in.KeyGroups)
	if err != nil {
		return Sim{}, err
	}
	a.Token = 1 << 40
	b, err := json.Marshal(a)
	if err != nil {
		return Sim{}, fmt.Errorf("scaleout: %w", err)
	}
	s := Sim{Parallelism: p, AssignmentJSONBytes: len(b)}

	dead := ms[in.Workers/2].ID
	d, err := cluster.Assign(&a, append(append([]cluster.Member(nil), ms[:in.Workers/2]...), ms[in.Workers/2+1:]...), p, in.KeyGroups)
	if err != nil {
		return Sim{}, err
	}
	s.DeathMoved = moved(a, d)
	recv := map[string]int{}
	for _, st := range a.Subtasks {
		if st.Worker == dead {
			recv[d.Worker(st.Subtask)]++
		}
	}
	s.DeathReceivers = len(recv)
	for _, n := range recv {
		s.DeathMaxReceived = max(s.DeathMaxReceived, n)
	}

	more := members(in.Workers+1, in.SlotsPerWorker)
	j, err := cluster.Assign(&a, more, p, in.KeyGroups)
	if err != nil {
		return Sim{}, err
	}
	s.JoinMoved = moved(a, j)
	r, err := cluster.Assign(&a, more, p+p/in.Workers, in.KeyGroups)
	if err != nil {
		return Sim{}, err
	}
	s.RescaleMoved = moved(a, r)
	return s, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func bytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// Load is the per-checkpoint and per-change load at the modelled size.
func Load(in Inputs, s Sim) []Row {
	p, w := s.Parallelism, in.Workers
	perWorker := p / w
	channelsIn := perWorker * p // logical channels into one worker's subtasks, per hash edge
	ackFanIn := float64(p) * float64(in.HashEdges+1)
	return []Row{
		{"subtasks", fmt.Sprintf("%d (%d per worker, %d slots each)", p, perWorker, in.SlotsPerWorker), "the job's parallelism"},
		{"key groups per subtask", kgPerSubtask(in.KeyGroups, p), "cluster.KeyGroupRangeFor"},
		{"etcd writes per checkpoint", "1 txn (3 compares, 2 puts)", "counted: Stats.Txns per CommitCheckpoint"},
		{"etcd bytes written per checkpoint", bytes(in.PutBytesPerCommit), "counted: Stats.PutBytes (keys + values)"},
		{"etcd time per checkpoint (pointer CAS)", ms(in.CommitLatency), "measured, sequential CAS on loopback"},
		{"checkpoints/s one etcd cluster commits (all jobs)", fmt.Sprintf("%.0f", in.ClusterCommitRate), "measured, 32 jobs at once"},
		{"jobs one etcd cluster carries at this interval", fmt.Sprintf("%.0f", in.ClusterCommitRate*in.Interval.Seconds()/2), "half the measured rate, one commit per job per interval"},
		{"fences per checkpoint (two-phase sinks)", fmt.Sprintf("%d read txns, %s each", w, ms(in.FenceLatency)), "one per worker that commits sink output itself; none for global committers"},
		{"acks per checkpoint if they went through etcd", fmt.Sprintf("%.0f txns = %.1f s of the measured cluster rate", ackFanIn, ackFanIn/in.ClusterCommitRate), "(hash edges + 1) tasks per slot; they go to the coordinator instead"},
		{"lease keep-alives", fmt.Sprintf("%.0f/s", float64(w)/(in.LeaseTTL.Seconds()/3)), "one per worker per TTL/3 (etcd's client); no Raft entry"},
		{"assignment value", bytes(float64(s.AssignmentJSONBytes)), "json of cluster.Assign's result; watched by every worker"},
		{"assignment fan-out per new attempt", bytes(float64(s.AssignmentJSONBytes) * float64(w)), "value × watching workers"},
		{"membership change seen by all", ms(in.JoinWatchP50), "measured join → watch event, p50"},
		{"TCP connections per worker", fmt.Sprintf("%d (one per peer, multiplexed)", w-1), "full mesh for hash edges"},
		{"logical channels into a worker per hash edge", fmt.Sprintf("%d", channelsIn), "its subtasks × all upstream subtasks"},
		{"credit buffers per worker", bytes(float64(channelsIn * in.HashEdges * in.CreditsPerChannel * in.BufferBytes)), fmt.Sprintf("channels × %d edges × %d credits × %s", in.HashEdges, in.CreditsPerChannel, bytes(float64(in.BufferBytes)))},
		{"barrier alignment fan-in per task", fmt.Sprintf("%d channels", p), "every upstream subtask of a hash edge"},
		{"key groups moved when a worker dies", fmt.Sprintf("%d of %d, to %d workers (at most %d subtask each)", s.DeathMoved, in.KeyGroups, s.DeathReceivers, s.DeathMaxReceived), "cluster.Assign"},
		{"key groups moved when a worker joins (same parallelism)", fmt.Sprintf("%d", s.JoinMoved), "cluster.Assign"},
		{"key groups moved when it joins and the parallelism grows by its share", fmt.Sprintf("%d", s.RescaleMoved), "cluster.Assign: ranges shift with the parallelism"},
	}
}

// Recovery is the time from a worker's death to the job running again
// from its last checkpoint, for state of size stateBytes over the whole
// job and S3 bandwidth perWorker (bytes/s) on each worker: detection (the
// lease TTL), a new assignment (election and publication, a few etcd
// round trips), and downloading state — all of each worker's share when
// every worker restores from S3, or only the dead worker's key groups when
// the others keep theirs locally. Replaying the input since the checkpoint
// (up to one interval) comes on top.
func Recovery(in Inputs, s Sim, stateBytes, perWorker float64) (full, moved time.Duration) {
	fixed := in.LeaseTTL + 4*in.CommitLatency + in.JoinWatchP50
	share := stateBytes / float64(in.Workers-1)
	full = fixed + time.Duration(share/perWorker*float64(time.Second))
	perSubtask := stateBytes / float64(s.Parallelism)
	moved = fixed + time.Duration(perSubtask*float64(s.DeathMaxReceived)/perWorker*float64(time.Second))
	return full, moved
}

func dur(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.0f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f min", d.Minutes())
}

// Markdown renders the model's tables.
func Markdown(in Inputs) (string, error) {
	s, err := Simulate(in)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d workers × %d slots, parallelism %d, %d key groups, %d hash edges, checkpoint every %v, lease TTL %v.\n\n", in.Workers, in.SlotsPerWorker, in.Parallelism, in.KeyGroups, in.HashEdges, in.Interval, in.LeaseTTL)
	b.WriteString("| quantity | value | from |\n|---|---|---|\n")
	for _, r := range Load(in, s) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.What, r.Value, r.How)
	}
	b.WriteString("\nRecovery after one worker's death (lease TTL + reassignment + download; replay of up to one interval on top):\n\n")
	b.WriteString("| job state | S3 per worker | all restore from S3 | only moved key groups |\n|---|---|---|---|\n")
	for _, st := range []float64{10e9, 100e9, 1e12, 10e12} {
		for _, bw := range []float64{100e6, 1e9} {
			full, moved := Recovery(in, s, st, bw)
			fmt.Fprintf(&b, "| %s | %s/s | %s | %s |\n", si(st), si(bw), dur(full), dur(moved))
		}
	}
	return b.String(), nil
}

func si(v float64) string {
	switch {
	case v >= 1e12:
		return fmt.Sprintf("%.0f TB", v/1e12)
	case v >= 1e9:
		return fmt.Sprintf("%.0f GB", v/1e9)
	}
	return fmt.Sprintf("%.0f MB", v/1e6)
}

func kgPerSubtask(kg, p int) string {
	if kg%p == 0 {
		return fmt.Sprintf("%d", kg/p)
	}
	return fmt.Sprintf("%d–%d", kg/p, kg/p+1)
}
