package consumer

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/internal/testseed"
)

// TestMain runs a consumer worker instead of the tests when the test
// binary is started as one by TestShowThreeProcesses.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_KCL_CHILD") == "1" {
		if err := childWorker(); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childWorker is one consumer process: it processes the stream with a
// recordingProcessor until SIGTERM, then shuts down gracefully.
func childWorker() error {
	worker, events := os.Getenv("SLUICE_KCL_WORKER"), os.Getenv("SLUICE_KCL_EVENTS")
	var store LeaseStore
	var err error
	kind, where, _ := strings.Cut(os.Getenv("SLUICE_KCL_STORE"), ":")
	switch kind {
	case "local":
		store, err = OpenLocalStore(where)
	case "etcd":
		store, err = OpenEtcdStore([]string{where}, "/sluice-test/leases/")
	default:
		err = fmt.Errorf("SLUICE_KCL_STORE=%q", os.Getenv("SLUICE_KCL_STORE"))
	}
	if err != nil {
		return err
	}
	defer store.Close()
	ev, err := openEventLog(events)
	if err != nil {
		return err
	}
	cfg := fastConfig("s", store, worker, func(string) RecordProcessor {
		return &recordingProcessor{log: ev, worker: worker, checkpointEvery: 3}
	})
	if os.Getenv("SLUICE_KCL_MODE") == "fanout" {
		cfg.Retrieval = FanOut
	}
	c, err := New(newClient(os.Getenv("SLUICE_KCL_ENDPOINT")), cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	return c.Run(ctx)
}

type childProc struct {
	name string
	cmd  *exec.Cmd
	out  string
	done chan error
}

// TestShowThreeProcesses is the consumer library's Show: three worker
// processes over a 4-shard stream served by the wire server, with a split
// and a merge during the run, one worker killed with SIGKILL and one
// started late; against the local store and a real etcd on loopback.
// Every record is processed, each processor's records in shard order from
// its checkpoint, no record again at or before a checkpoint, duplicates
// only from the killed worker's shards, children after their parents.
func TestShowThreeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	for _, kind := range []string{"local", "etcd"} {
		for _, mode := range []string{"polling", "fanout"} {
			t.Run(kind+"/"+mode, func(t *testing.T) { showRun(t, kind, mode) })
		}
	}
}

func showRun(t *testing.T, kind, mode string) {
	seed := testseed.Seed(t)
	env := startServer(t)
	env.createStream(t, "s", 4)
	p := newProducer(env.log, "s", 40, seed)
	dir := t.TempDir()
	var storeSpec string
	var store LeaseStore
	switch kind {
	case "local":
		storeSpec = "local:" + filepath.Join(dir, "leases")
		s, err := OpenLocalStore(filepath.Join(dir, "leases"))
		if err != nil {
			t.Fatal(err)
		}
		store = s
	case "etcd":
		ep := startEtcd(t)
		storeSpec = "etcd:" + ep
		s, err := OpenEtcdStore([]string{ep}, "/sluice-test/leases/")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		store = s
	}
	evPath := filepath.Join(dir, "events")
	children := map[string]*childProc{}
	start := func(name string) {
		out := filepath.Join(dir, name+".log")
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SLUICE_KCL_CHILD=1", "SLUICE_KCL_WORKER="+name, "SLUICE_KCL_EVENTS="+evPath,
			"SLUICE_KCL_STORE="+storeSpec, "SLUICE_KCL_ENDPOINT="+env.url, "SLUICE_KCL_MODE="+mode)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		c := &childProc{name: name, cmd: cmd, out: out, done: make(chan error, 1)}
		go func() { c.done <- cmd.Wait() }()
		children[name] = c
		t.Cleanup(func() {
			_ = cmd.Process.Kill() // ended already unless the test failed
			<-c.done
			if t.Failed() {
				b, _ := os.ReadFile(out)
				t.Logf("%s's output:\n%s", name, tail(string(b), 3000))
			}
		})
	}
	ctx := context.Background()
	leases := func() []Lease {
		ls, err := store.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	processed := func() int {
		if _, err := os.Stat(evPath); err != nil {
			return 0
		}
		return readEventLog(t, evPath).processed()
	}
	owns := func(ls []Lease, w string) int {
		n := 0
		for _, l := range ls {
			if l.Owner == w && !l.Finished() {
				n++
			}
		}
		return n
	}
	const limit = 2 * time.Minute

	p.put(t, 300)
	start("w1")
	start("w2")
	waitFor(t, limit, "w1 and w2 to share the 4 shards and process 300 records", func() (bool, string) {
		ls := leases()
		n := processed()
		return len(ls) == 4 && owns(ls, "w1") == 2 && owns(ls, "w2") == 2 && n >= 300, fmt.Sprintf("%s processed %d", leaseOwners(ls), n)
	})

	ref := shardlog.StreamRef{Name: "s"}
	if err := env.log.SplitShard(ref, "shardId-000000000000", shardlog.UniformRanges(4)[0].Midpoint().String()); err != nil {
		t.Fatal(err)
	}
	p.put(t, 300)
	waitFor(t, limit, "the split's children to be processed (600 records)", func() (bool, string) {
		ls := leases()
		n := processed()
		return len(ls) == 6 && n >= 600, fmt.Sprintf("%s processed %d", leaseOwners(ls), n)
	})

	// Kill the worker that holds more leases (w1 on a tie) mid-stream.
	ls := leases()
	victim, survivor := "w1", "w2"
	if owns(ls, "w2") > owns(ls, "w1") {
		victim, survivor = "w2", "w1"
	}
	p.put(t, 150)
	if err := children[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-children[victim].done
	children[victim].done <- nil
	t.Logf("killed %s; leases then: %s", victim, leaseOwners(ls))
	p.put(t, 150)
	waitFor(t, limit, survivor+" to take over "+victim+"'s shards (900 records)", func() (bool, string) {
		ls := leases()
		n := processed()
		return owns(ls, victim) == 0 && owns(ls, survivor) == 5 && n >= 900, fmt.Sprintf("%s processed %d", leaseOwners(ls), n)
	})

	start("w3")
	if err := env.log.MergeShards(ref, "shardId-000000000001", "shardId-000000000002"); err != nil {
		t.Fatal(err)
	}
	p.put(t, 300)
	waitFor(t, limit, "w3 to get its share after the merge (1200 records)", func() (bool, string) {
		ls := leases()
		n := processed()
		return len(ls) == 7 && owns(ls, "w3") == 2 && owns(ls, survivor) == 2 && n >= 1200, fmt.Sprintf("%s processed %d", leaseOwners(ls), n)
	})

	for _, w := range []string{survivor, "w3"} {
		if err := children[w].cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []string{survivor, "w3"} {
		if err := <-children[w].done; err != nil {
			t.Errorf("%s after SIGTERM: %v", w, err)
		}
		children[w].done <- nil
	}

	tr := readTruth(t, newClient(env.url), "s")
	if tr.total() != p.total {
		t.Fatalf("the stream holds %d records, %d put", tr.total(), p.total)
	}
	pl := readEventLog(t, evPath)
	dups := pl.check(t.Errorf, tr, map[string]bool{victim: true})
	t.Logf("%d records, %d processings of them again (after the kill), %d processor runs", tr.total(), dups, len(pl.stints))
	for _, l := range leases() {
		if l.Owner != "" {
			t.Errorf("lease of %s still held by %s after the graceful shutdowns", l.ShardID, l.Owner)
		}
		rs := tr.records[l.ShardID]
		switch {
		case tr.closed[l.ShardID]:
			if !l.Finished() {
				t.Errorf("closed shard %s checkpointed at %s, not SHARD_END", l.ShardID, l.Checkpoint)
			}
		case len(rs) > 0 && !strings.HasPrefix(rs[len(rs)-1], l.Checkpoint.SequenceNumber+" "):
			t.Errorf("open shard %s checkpointed at %s after a graceful shutdown, not at its last record", l.ShardID, l.Checkpoint)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
