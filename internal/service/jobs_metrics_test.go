package service

import (
	"context"
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/engine"
)

func init() {
	RegisterJob("test-count", func(ctx context.Context, env JobEnv, j *engine.Job, args []string) error {
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return err
		}
		vals := make([]int, n)
		for i := range vals {
			vals[i] = i
		}
		s := engine.FromSlice(j, "numbers", vals, engine.NoWatermarks[int]())
		odd := engine.FlatMap(s, "odd", func(v int, emit func(int)) {
			if v%2 == 1 {
				emit(v)
			}
		})
		engine.ForEach(engine.Map(odd.Rebalance(), "double", func(v int) int { return 2 * v }), "drop", func(int) error { return nil })
		return nil
	})
}

// TestJobsMetricsAgreeWithREST scrapes /metrics with the Prometheus
// text-format parser and checks each job figure against GET /v1/jobs/ID,
// for a job that ran to its end (its figures no longer move) and a job
// that failed.
func TestJobsMetricsAgreeWithREST(t *testing.T) {
	e := jobsEnv(t, t.TempDir())
	c := newTestClient("http://" + e.addr)
	ctx := context.Background()
	v, err := c.Submit(ctx, JobSpec{Go: "test-count", Args: []string{"1000"}, Config: map[string]string{"parallelism.default": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	failed, err := c.Submit(ctx, JobSpec{Go: "test-always-fails", Config: map[string]string{"restart-strategy.fixed-delay.attempts": "1", "restart-strategy.fixed-delay.delay": "1 ms"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both jobs to end", func() bool {
		v, err = c.Job(ctx, v.ID)
		f, ferr := c.Job(ctx, failed.ID)
		failed = f
		return err == nil && ferr == nil && v.State == JobFinished && f.State == JobFailed
	})
	fams := scrape(t, e.addr)
	get := func(name string, labels map[string]string) float64 {
		t.Helper()
		x, ok := sample(fams, name, labels)
		if !ok {
			t.Fatalf("%s%v: not on /metrics", name, labels)
		}
		return x
	}
	job := map[string]string{"job_id": v.ID}
	if got := get("sluice_job_running", map[string]string{"job_id": v.ID, "state": JobFinished}); got != 0 {
		t.Errorf("running %v", got)
	}
	if got := get("sluice_job_restarts_total", map[string]string{"job_id": failed.ID}); got != float64(failed.Restarts) || got != 1 {
		t.Errorf("restarts on /metrics %v, REST %d, want 1", got, failed.Restarts)
	}
	if got := get("sluice_job_exceptions", map[string]string{"job_id": failed.ID}); got != float64(len(failed.Exceptions)) {
		t.Errorf("exceptions on /metrics %v, REST %d", got, len(failed.Exceptions))
	}
	if len(v.Operators) != 4 {
		t.Fatalf("operators %+v", v.Operators)
	}
	want := map[string][2]int64{"numbers": {0, 1000}, "odd": {1000, 500}, "double": {500, 500}, "drop": {500, 0}}
	for _, op := range v.Operators {
		l := map[string]string{"job_id": v.ID, "operator_id": strconv.Itoa(op.ID)}
		if w, ok := want[op.Name]; !ok || op.RecordsIn != w[0] || op.RecordsOut != w[1] {
			t.Errorf("REST %s: in %d out %d, want %v", op.Name, op.RecordsIn, op.RecordsOut, w)
		}
		for name, rest := range map[string]float64{
			"sluice_operator_records_in_total":            float64(op.RecordsIn),
			"sluice_operator_records_out_total":           float64(op.RecordsOut),
			"sluice_operator_busy_seconds_total":          float64(op.BusyMs) / 1000,
			"sluice_operator_backpressured_seconds_total": float64(op.BackpressuredMs) / 1000,
			"sluice_operator_idle_seconds_total":          float64(op.IdleMs) / 1000,
		} {
			if got := get(name, l); got != rest {
				t.Errorf("%s %s: /metrics %v, REST %v", op.Name, name, got, rest)
			}
		}
	}
	if cp := v.Checkpoints.Latest; cp != nil {
		if got := get("sluice_job_last_checkpoint_id", job); got != float64(cp.ID) {
			t.Errorf("checkpoint id: /metrics %v, REST %d", got, cp.ID)
		}
		if got := get("sluice_job_last_checkpoint_size_bytes", job); got != float64(cp.SizeBytes) {
			t.Errorf("checkpoint size: /metrics %v, REST %d", got, cp.SizeBytes)
		}
		if got := get("sluice_job_last_checkpoint_duration_seconds", job); got != cp.DurationMs/1000 {
			t.Errorf("checkpoint duration: /metrics %v, REST %v", got, cp.DurationMs/1000)
		}
	}
}
