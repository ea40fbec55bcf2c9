package kinesisapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// Damage to a served log, one subprocess test per case: `sluice log serve`
// writes, is killed with SIGKILL, the files are damaged, and the server,
// `sluice log check` and `sluice log repair` are run on them as an operator
// would.

// testOperator is the fallback of `sluice log check|repair` (see
// buildSluice): the same shardlog calls, the same output.
func testOperator(args []string) int {
	var dir string
	var mode shardlog.RepairMode
	for i, a := range args {
		switch a {
		case "--data":
			dir = args[i+1]
		case "--skip":
			mode = shardlog.RepairSkip
		case "--salvage":
			mode = shardlog.RepairSalvage
		}
	}
	l, err := shardlog.Open(shardlog.Options{Dir: dir, RetentionInterval: -1, ErrorLog: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer l.Close()
	if args[1] == "check" {
		ds, err := l.Verify()
		for _, d := range ds {
			fmt.Println(d)
		}
		if err != nil || len(ds) > 0 {
			fmt.Fprintln(os.Stderr, "damaged", err)
			return 1
		}
		fmt.Println("sluice log: no damage")
		return 0
	}
	done, err := l.Repair(mode)
	for _, r := range done {
		fmt.Println(r)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// lockedBuffer collects a process's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	os.Stderr.Write(p)
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// server is one `sluice log serve` process.
type server struct {
	cmd    *exec.Cmd
	c      *kinesis.Client
	stderr *lockedBuffer
}

func serveLog(t *testing.T, bin, dir string, extra ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"log", "serve", "--addr", addr, "--data", dir, "--limits", "off"}, extra...)
	cmd := exec.Command(bin, args...)
	s := &server{cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stdout, cmd.Stderr = os.Stderr, s.stderr
	if bin != sluiceBin {
		cmd.Env = append(os.Environ(), "SHARDLOG_TEST_SERVE=1")
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	s.c = newClient("http://"+addr, nil)
	for i := 0; i < 400; i++ {
		if _, err := s.c.ListStreams(context.Background(), &kinesis.ListStreamsInput{}); err == nil {
			return s
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("sluice log serve did not come up:\n%s", s.stderr)
	return nil
}

// kill ends the server with SIGKILL.
func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// operator runs `sluice log check|repair` and returns its output.
func operator(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"log"}, args...)...)
	if bin != sluiceBin {
		cmd.Env = append(os.Environ(), "SHARDLOG_TEST_SERVE=1")
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	t.Logf("sluice log %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	return out.String(), err
}

// segmentFile is the path of shard's first segment in the log directory.
func segmentFile(t *testing.T, dir, stream, shard string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "streams", stream+".*", "shards", shard, "*.log"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no segment of %s/%s: %v", stream, shard, err)
	}
	return m[0]
}

type readOut struct {
	seqs     []string
	data     []string
	ended    bool // a null next iterator
	children int
	err      error
}

// readShard reads a shard from TRIM_HORIZON, limit records a call, until an
// empty answer, its end or an error.
func readShard(ctx context.Context, c *kinesis.Client, stream, shard string, limit int32) readOut {
	var r readOut
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		r.err = err
		return r
	}
	iter := it.ShardIterator
	for range 100000 {
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(limit)})
		if err != nil {
			r.err = err
			return r
		}
		for _, rec := range out.Records {
			r.seqs = append(r.seqs, *rec.SequenceNumber)
			r.data = append(r.data, string(rec.Data))
		}
		if out.NextShardIterator == nil {
			r.ended, r.children = true, len(out.ChildShards)
			return r
		}
		if len(out.Records) == 0 {
			return r
		}
		iter = out.NextShardIterator
	}
	r.err = errors.New("the shard never ends")
	return r
}

func isInternalFailure(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "InternalFailure"
}

func putOne(t *testing.T, c *kinesis.Client, stream string, i int) string {
	t.Helper()
	out, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String(fmt.Sprint(i)), Data: []byte(fmt.Sprintf("record %03d %s", i, strings.Repeat("x", 60)))})
	if err != nil {
		t.Fatal(err)
	}
	return *out.SequenceNumber
}

// TestDamagedClosedShard: the parent of a split loses the end of its
// segment. The server names the damage (stream, shard, offset) when it
// opens the log; GetRecords answers the records before it and then
// InternalFailure, never empty answers forever; `sluice log check` lists
// it and fails; `sluice log repair --skip` lets readers reach the shard's
// end and its children.
func TestDamagedClosedShard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	bin := buildSluice(t)
	dir := t.TempDir()
	ctx := context.Background()
	s := serveLog(t, bin, dir)
	if _, err := s.c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("d"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for i := 0; i < 20; i++ {
		seqs = append(seqs, putOne(t, s.c, "d", i))
	}
	if _, err := s.c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("d"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		ls, err := s.c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("d")})
		if err == nil && len(ls.Shards) == 3 && ls.Shards[0].SequenceNumberRange.EndingSequenceNumber != nil {
			break
		}
		if i == 400 {
			t.Fatalf("the split never showed: %v %v", ls, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	seg := segmentFile(t, dir, "d", "shardId-000000000000")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(seg, b[:len(b)-5], 0o644)

	s = serveLog(t, bin, dir)
	want := `stream "d" shard shardId-000000000000: found damage in ` + seg
	if log := s.stderr.String(); !strings.Contains(log, want) || !strings.Contains(log, "offset 19") {
		t.Fatalf("the server's log does not name the damage (%q, offset 19):\n%s", want, log)
	}
	r := readShard(ctx, s.c, "d", "shardId-000000000000", 7)
	if len(r.seqs) != 19 || !isInternalFailure(r.err) || strings.Join(r.seqs, ",") != strings.Join(seqs[:19], ",") {
		t.Fatalf("read %d records then %v; want the 19 before the damage, then InternalFailure", len(r.seqs), r.err)
	}
	s.kill()

	out, err := operator(t, bin, "check", "--data", dir)
	if err == nil || !strings.Contains(out, "stream d shard shardId-000000000000: offset 19") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	if out, err := operator(t, bin, "repair", "--data", dir, "--skip"); err != nil || !strings.Contains(out, "skipped offsets 19 to 19") {
		t.Fatalf("repair: %v\n%s", err, out)
	}
	if out, err := operator(t, bin, "check", "--data", dir); err != nil || !strings.Contains(out, "no damage") {
		t.Fatalf("check after repair: %v\n%s", err, out)
	}

	s = serveLog(t, bin, dir)
	r = readShard(ctx, s.c, "d", "shardId-000000000000", 7)
	if r.err != nil || len(r.seqs) != 19 || !r.ended || r.children != 2 {
		t.Fatalf("after repair: %d records, ended %v with %d children, %v", len(r.seqs), r.ended, r.children, r.err)
	}
	if strings.Contains(s.stderr.String(), "damage") {
		t.Fatalf("damage reported after the repair:\n%s", s.stderr)
	}
}

// TestDamagedSealedSegment: a byte flips inside a sealed segment. The
// records before it read; the read that reaches it answers InternalFailure
// and the server's log names the shard, offset and position; `sluice log
// repair --salvage` keeps the damaged batch's records, and every record
// reads back with the sequence number it was given.
func TestDamagedSealedSegment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	bin := buildSluice(t)
	dir := t.TempDir()
	ctx := context.Background()
	s := serveLog(t, bin, dir, "--segment-bytes", "4096")
	if _, err := s.c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("g"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for i := 0; i < 120; i++ {
		seqs = append(seqs, putOne(t, s.c, "g", i))
	}
	s.kill()
	seg := segmentFile(t, dir, "g", "shardId-000000000000")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	// The sixth batch (one record each): offset 5; flip a byte of its data.
	p := 32
	for range 5 {
		p += 8 + int(uint32(b[p])|uint32(b[p+1])<<8|uint32(b[p+2])<<16|uint32(b[p+3])<<24)
	}
	b[p+50] ^= 0x20
	os.WriteFile(seg, b, 0o644)

	s = serveLog(t, bin, dir, "--segment-bytes", "4096")
	r := readShard(ctx, s.c, "g", "shardId-000000000000", 7)
	if len(r.seqs) != 5 || !isInternalFailure(r.err) {
		t.Fatalf("read %d records then %v; want 5, then InternalFailure", len(r.seqs), r.err)
	}
	want := fmt.Sprintf(`stream "g" shard shardId-000000000000: found damage in %s at position %d, offset 5: checksum mismatch`, seg, p)
	if log := s.stderr.String(); !strings.Contains(log, want) {
		t.Fatalf("the server's log does not name the damage (%q):\n%s", want, log)
	}
	s.kill()

	if out, err := operator(t, bin, "check", "--data", dir); err == nil || !strings.Contains(out, "stream g shard shardId-000000000000: offset 5") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	if out, err := operator(t, bin, "repair", "--data", dir, "--salvage"); err != nil || !strings.Contains(out, "salvaged 1 records at offsets 5 to 5") {
		t.Fatalf("repair: %v\n%s", err, out)
	}
	s = serveLog(t, bin, dir, "--segment-bytes", "4096")
	r = readShard(ctx, s.c, "g", "shardId-000000000000", 7)
	if r.err != nil || strings.Join(r.seqs, ",") != strings.Join(seqs, ",") {
		t.Fatalf("after salvage: %d records (want all %d with their sequence numbers), %v", len(r.seqs), len(seqs), r.err)
	}
	if r.data[4] != fmt.Sprintf("record %03d %s", 4, strings.Repeat("x", 60)) || r.data[5] == fmt.Sprintf("record %03d %s", 5, strings.Repeat("x", 60)) {
		t.Fatalf("salvaged data: %q %q (the flipped byte stays flipped)", r.data[4], r.data[5])
	}
}

// TestRecoveryLogsWhatItCuts: after a SIGKILL, a torn tail (bytes after
// the last acknowledged batch) is cut and logged with the shard, position,
// offset and bytes dropped; a segment left with an incomplete header is
// recreated and logged likewise; every acknowledged record survives both.
func TestRecoveryLogsWhatItCuts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	bin := buildSluice(t)
	dir := t.TempDir()
	ctx := context.Background()
	s := serveLog(t, bin, dir)
	if _, err := s.c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("r"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for i := 0; i < 10; i++ {
		seqs = append(seqs, putOne(t, s.c, "r", i))
	}
	s.kill()
	seg := segmentFile(t, dir, "r", "shardId-000000000000")
	st, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0x40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7})
	f.Close()

	s = serveLog(t, bin, dir)
	want := fmt.Sprintf(`stream "r" shard shardId-000000000000: cut a torn tail in %s at position %d, offset 10, 11 bytes dropped`, seg, st.Size())
	if log := s.stderr.String(); !strings.Contains(log, want) {
		t.Fatalf("the server's log does not tell the cut (%q):\n%s", want, log)
	}
	for i := 10; i < 12; i++ {
		seqs = append(seqs, putOne(t, s.c, "r", i))
	}
	s.kill()
	next := filepath.Join(filepath.Dir(seg), "00000000000000000012.log")
	os.WriteFile(next, []byte("SLUICESG\x01"), 0o644)

	s = serveLog(t, bin, dir)
	want = fmt.Sprintf(`stream "r" shard shardId-000000000000: recreated an empty segment in %s at position 0, offset 12, 9 bytes dropped`, next)
	if log := s.stderr.String(); !strings.Contains(log, want) {
		t.Fatalf("the server's log does not tell the recreated segment (%q):\n%s", want, log)
	}
	seqs = append(seqs, putOne(t, s.c, "r", 12))
	r := readShard(ctx, s.c, "r", "shardId-000000000000", 7)
	if r.err != nil || strings.Join(r.seqs, ",") != strings.Join(seqs, ",") {
		t.Fatalf("read %d records (want the %d acknowledged): %v", len(r.seqs), len(seqs), r.err)
	}
}

// TestSIGKILLWithTornTails: rounds of writing, SIGKILL, and garbage
// appended to every shard's active segment (a torn write of what was never
// acknowledged: random bytes, or a batch header that promises more than
// follows). Each restart cuts each garbage tail and logs it with the shard;
// every acknowledged record is there at the end with its sequence number.
func TestSIGKILLWithTornTails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	bin := buildSluice(t)
	dir := t.TempDir()
	ctx := context.Background()
	all := map[string]acked{}
	const shards = 3
	for round := 0; round < 3; round++ {
		s := serveLog(t, bin, dir)
		if round == 0 {
			if _, err := s.c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("t"), ShardCount: aws.Int32(shards)}); err != nil {
				t.Fatal(err)
			}
		} else {
			for sh := 0; sh < shards; sh++ {
				want := fmt.Sprintf(`stream "t" shard shardId-%012d: cut a torn tail`, sh)
				if log := s.stderr.String(); !strings.Contains(log, want) {
					t.Fatalf("round %d: no cut logged for shard %d (%q):\n%s", round, sh, want, log)
				}
			}
		}
		stop := writeUntilKilled(ctx, s.c, "t", round, 2, 30, all)
		time.Sleep(300 * time.Millisecond)
		s.kill()
		stop()
		for sh := 0; sh < shards; sh++ {
			m, _ := filepath.Glob(filepath.Join(dir, "streams", "t.*", "shards", fmt.Sprintf("shardId-%012d", sh), "*.log"))
			if len(m) == 0 {
				t.Fatalf("no segment of shard %d", sh)
			}
			last := m[len(m)-1]                                                  // names sort by first offset
			garbage := []byte{0xff, 0x00, 0x10, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9} // promises 1 MiB
			if (round+sh)%2 == 1 {
				garbage = []byte(fmt.Sprintf("torn write %d/%d", round, sh))
			}
			f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(garbage)
			f.Close()
		}
	}
	if len(all) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	s := serveLog(t, bin, dir)
	found := map[string]acked{}
	for sh := 0; sh < shards; sh++ {
		id := fmt.Sprintf("shardId-%012d", sh)
		r := readShard(ctx, s.c, "t", id, 10000)
		if r.err != nil {
			t.Fatal(r.err)
		}
		for i := range r.seqs {
			found[r.data[i]] = acked{id, r.seqs[i]}
		}
	}
	for data, a := range all {
		if f, ok := found[data]; !ok || f != a {
			t.Fatalf("acknowledged record %s (%v) found as %v %v; %d acknowledged, %d found", data, a, f, ok, len(all), len(found))
		}
	}
	if strings.Contains(s.stderr.String(), "found damage") {
		t.Fatalf("torn tails reported as damage:\n%s", s.stderr)
	}
	t.Logf("%d acknowledged records, %d found after three SIGKILLs with torn tails", len(all), len(found))
}
