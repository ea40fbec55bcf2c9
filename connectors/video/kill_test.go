package video

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const killChildEnv = "SLUICE_VIDEO_KILL_CHILD_DIR"

// TestKillDuringPutMedia kills (SIGKILL) a child process in the middle of a
// PutMedia session, at several points, and checks after each restart that
// every fragment it acknowledged PERSISTED is readable, whole, in order.
func TestKillDuringPutMedia(t *testing.T) {
	if os.Getenv(killChildEnv) != "" {
		t.Skip("the child's test runs in TestKillChild")
	}
	dir := t.TempDir()
	var acked []string
	for round, after := range []int{1, 6, 13} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir, fmt.Sprintf("SLUICE_VIDEO_KILL_ROUND=%d", round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for n < after && sc.Scan() {
			if num, ok := strings.CutPrefix(sc.Text(), "PERSISTED "); ok {
				acked = append(acked, num)
				n++
			}
		}
		if n < after {
			t.Fatalf("round %d: the child stopped after %d acknowledgements", round, n)
		}
		// Kill while it keeps writing; what it printed later is not read.
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()

		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		ctx := context.Background()
		for _, num := range acked {
			doc, err := s.Fragment(ctx, "cam", num)
			if err != nil {
				t.Fatalf("round %d: acknowledged fragment %s: %v", round, num, err)
			}
			if _, err := decodeCluster(clusterOf(t, s, num)); err != nil || len(doc) == 0 {
				t.Fatalf("round %d: fragment %s does not decode: %v", round, num, err)
			}
		}
		s.Close()
	}
}

func clusterOf(t *testing.T, s *Store, num string) []byte {
	f, err := s.ReadFragment(context.Background(), "cam", num)
	if err != nil {
		t.Fatal(err)
	}
	return f.cluster
}

// TestKillChild is the child: it puts an endless stream of fragments and
// prints each PERSISTED acknowledgement as it comes.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killChildEnv)
	if dir == "" {
		t.Skip("run by TestKillDuringPutMedia")
	}
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Stream(ctx, "cam", ""); err != nil {
		if _, err := s.CreateStream(ctx, CreateInput{Name: "cam", DataRetentionInHours: 24}); err != nil {
			t.Fatal(err)
		}
	}
	pr, pw := io.Pipe()
	go func() {
		m := newMKV(t).add(&infoElem{testInfo}).add(&tracksElem{Tracks{TrackEntry: []TrackEntry{videoTrack}}})
		if _, err := pw.Write(m.b); err != nil {
			return
		}
		base := uint64(time.Now().UnixMilli())
		for i := uint64(0); ; i++ {
			b, err := marshalElement(&clusterElem{cluster(base+i*200, 5, 1, 4000)})
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := pw.Write(b); err != nil {
				return
			}
		}
	}()
	err = s.PutMedia(ctx, "cam", pr, PutOptions{}, func(a Ack) error {
		if a.EventType == AckPersisted {
			_, err := fmt.Fprintf(os.Stdout, "PERSISTED %s\n", a.FragmentNumber)
			return err
		}
		return nil
	})
	t.Fatalf("PutMedia ended: %v", err)
}
