package dashboard_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/internal/service/dashboard"
	"github.com/sluicehq/sluice/internal/testsupport/browser"
)

// fakeAPI answers the REST API's paths with fixed shapes and counters
// that grow on every call, so the pages' charts have something to draw.
func fakeAPI(t *testing.T) http.Handler {
	var calls atomic.Int64
	var submitted atomic.Int64
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(v); err != nil {
			t.Error(err)
		}
	}
	mux.Handle(dashboard.Prefix, dashboard.Handler())
	mux.HandleFunc("GET /v1/overview", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"streams": 1, "open_shards": 2, "delivery_streams": 0, "jobs": map[string]int{"RUNNING": 1}})
	})
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"jobs": []any{map[string]any{"id": "j1", "name": "clicks", "kind": "sql", "state": "RUNNING"}}})
	})
	mux.HandleFunc("POST /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ SQL string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !strings.Contains(req.SQL, "INSERT") {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]any{"error": map[string]any{"code": "InvalidSQL", "message": "line 1, column 1: no INSERT"}})
			return
		}
		submitted.Add(1)
		writeJSON(w, map[string]any{"id": "j1"})
	})
	mux.HandleFunc("GET /v1/jobs/j1", func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1) * 1000
		writeJSON(w, map[string]any{"id": "j1", "name": "clicks", "state": "RUNNING",
			"graph": map[string]any{
				"nodes": []any{
					map[string]any{"id": 1, "name": "src", "kind": "source", "parallelism": 2},
					map[string]any{"id": 2, "name": "window", "kind": "operator", "parallelism": 2},
					map[string]any{"id": 3, "name": "sink", "kind": "sink", "parallelism": 1},
				},
				"edges": []any{
					map[string]any{"from": 1, "to": 2, "partitioning": "hash"},
					map[string]any{"from": 2, "to": 3, "partitioning": "forward", "chained": true},
				}},
			"operators": []any{
				map[string]any{"id": 1, "records_out": n, "backpressured_ms": n / 2},
				map[string]any{"id": 2, "records_in": n, "records_out": n / 10, "watermark_lag_ms": 1500},
				map[string]any{"id": 3, "records_in": n / 10},
			},
			"checkpoints": map[string]any{"history": []any{map[string]any{"id": 1, "duration_ms": 12, "size_bytes": 4096}}},
		})
	})
	mux.HandleFunc("GET /v1/jobs/missing", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		writeJSON(w, map[string]any{"error": map[string]any{"code": "NotFound", "message": `job "missing" not found`}})
	})
	return mux
}

func TestPagesRender(t *testing.T) {
	srv := httptest.NewServer(fakeAPI(t))
	defer srv.Close()
	b := browser.New(t)
	if err := b.Do(chromedp.Navigate(srv.URL+"/ui/"), chromedp.WaitVisible(chromedp.CSS(".card"))); err != nil {
		t.Fatal(err)
	}
	b.Screenshot("overview")
	// The job page: the graph has the job's operators, the charts fill.
	if err := b.Do(chromedp.Navigate(srv.URL+"/ui/#/jobs/j1"), chromedp.WaitVisible(chromedp.CSS("svg.graph"))); err != nil {
		t.Fatal(err)
	}
	if _, err := browser.Run(b, chromedp.Poll[chromedp.Void](`Number(document.querySelector("svg.chart").getAttribute("data-points")) >= 3`)); err != nil {
		t.Fatalf("the throughput chart did not fill: %v", err)
	}
	names, err := browser.Run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("svg.graph .node")].map(n => n.dataset.operator)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "src,window,sink" {
		t.Fatalf("graph nodes %v", names)
	}
	b.Screenshot("job")
	// A job that is not there.
	if err := b.Do(chromedp.Navigate(srv.URL+"/ui/#/jobs/missing"), chromedp.WaitVisible(chromedp.CSS(".error-box"))); err != nil {
		t.Fatal(err)
	}
	text, err := browser.Run(b, chromedp.Text(chromedp.CSS(".error-box")))
	if err != nil || !strings.Contains(text, `job "missing" not found`) {
		t.Fatalf("404 page: %q %v", text, err)
	}
	// The SQL editor: a bad pipeline shows the error, a good one opens its job.
	if err := b.Do(chromedp.Navigate(srv.URL+"/ui/#/sql"), chromedp.WaitVisible(chromedp.ID("sql-text")),
		chromedp.SetValue(chromedp.ID("sql-text"), "SELECT 1"), chromedp.Click(chromedp.ID("sql-submit")),
		chromedp.WaitVisible(chromedp.CSS("#sql-result .error-box"))); err != nil {
		t.Fatal(err)
	}
	b.Screenshot("sql-error")
	if err := b.Do(chromedp.SetValue(chromedp.ID("sql-text"), "INSERT INTO x SELECT 1"), chromedp.Click(chromedp.ID("sql-submit")),
		chromedp.WaitVisible(chromedp.CSS("svg.graph"))); err != nil {
		t.Fatal(err)
	}
	// An error seen by the console is expected for the 404 (the browser
	// logs failed fetches); nothing else may be there.
	for _, e := range b.Errors() {
		if !strings.Contains(e, "404") && !strings.Contains(e, "400") {
			t.Errorf("browser: %s", e)
		}
	}
}
