package exchangebench

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/engine/netexchange"
	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/internal/bench/pipelinebench"
)

// TestRun runs both cases small: the job's result over TCP is checked
// against the loop inside Run, and both cases are emitted with latencies.
func TestRun(t *testing.T) {
	var rs []bench.Result
	if err := Run(context.Background(), Config{Runs: 1, Records: 20_000, Parallelism: 2, BatchSize: 64, Capacity: 4}, bench.Collect(&rs)); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[1].BaselineRatio == 0 {
		t.Fatalf("results %+v, want the in-process case and the TCP one with its ratio", rs)
	}
	for _, r := range rs {
		if r.Records != 20_000 || r.Extra["latency_p50_us"] == nil {
			t.Errorf("result %+v lacks its records or latency", r)
		}
	}
	if err := Run(context.Background(), Config{Runs: 0, Records: 1, Parallelism: 1, BatchSize: 1, Capacity: 1}, bench.Collect(&rs)); err == nil {
		t.Fatal("Run with 0 runs succeeded")
	}
}

func TestMsgCodecRoundTrip(t *testing.T) {
	m := Msg{User: 7, Value: -3, Sent: 1 << 60}
	b := MsgCodec{}.Append(nil, m)
	got, err := MsgCodec{}.Decode(b)
	if err != nil || got != m || len(b) != MsgBytes {
		t.Fatalf("round trip %+v → %d bytes → %+v, %v", m, len(b), got, err)
	}
	if _, err := (MsgCodec{}).Decode(b[:5]); err == nil {
		t.Fatal("a short Msg decoded")
	}
}

// BenchmarkKeyedJob is the keyed job over in-process channels and over the
// TCP transport (go test -bench KeyedJob ./internal/bench/exchangebench/).
func BenchmarkKeyedJob(b *testing.B) {
	const n = 200_000
	want := pipelinebench.KeyedSumBaseline(n)
	lb, err := netexchange.NewLoopback(context.Background(), netexchange.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer lb.Close()
	for _, c := range []struct {
		name string
		tcp  bool
	}{{"in-process", false}, {"tcp-loopback", true}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(n * MsgBytes)
			for i := 0; i < b.N; i++ {
				var lat latencies
				var got int64
				var err error
				if c.tcp {
					got, err = KeyedJob(context.Background(), n, 2, 512, 4, lb, &lat)
				} else {
					got, err = KeyedJob(context.Background(), n, 2, 512, 4, nil, &lat)
				}
				if err != nil || got != want {
					b.Fatalf("got %d, %v; want %d", got, err, want)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
