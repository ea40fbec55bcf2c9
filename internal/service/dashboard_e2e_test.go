package service

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/internal/testsupport/browser"
)

// The dashboard of a running `sluice serve`, in headless Chromium: every
// page loads without console errors, the job page draws the running job's
// operators and its charts fill as the job runs, the SQL editor submits a
// job; a screenshot of each page is saved.
func TestDashboardInBrowser(t *testing.T) {
	b := browser.New(t)
	e := jobsEnv(t, t.TempDir())
	c := newTestClient("http://" + e.addr)
	ctx := context.Background()
	l := e.svc.Log()
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "in", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	putNumbers(t, l, "in", 0, 100)
	v, err := c.Submit(ctx, JobSpec{Name: "copy", SQL: pipelineSQL(filepath.Join(t.TempDir(), "out"))})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job's graph", func() bool {
		v, err = c.Job(ctx, v.ID)
		return err == nil && len(v.Graph.Nodes) > 0
	})
	base := "http://" + e.addr + "/ui/"
	pages := []struct{ name, hash, ready string }{
		{"overview", "#/", ".card"},
		{"streams", "#/streams", "table a[href='#/streams/in']"},
		{"stream", "#/streams/in", "svg.chart"},
		{"delivery-streams", "#/delivery-streams", "table"},
		{"jobs", "#/jobs", "table a[href='#/jobs/" + v.ID + "']"},
	}
	for _, p := range pages {
		if err := b.Do(chromedp.Navigate(base+p.hash), chromedp.WaitVisible(chromedp.CSS(p.ready))); err != nil {
			t.Fatalf("page %s: %v", p.name, err)
		}
		b.Screenshot(p.name)
	}
	// The job page: one node per operator of the running job.
	if err := b.Do(chromedp.Navigate(base+"#/jobs/"+v.ID), chromedp.WaitVisible(chromedp.CSS("svg.graph .node"))); err != nil {
		t.Fatal(err)
	}
	names, err := browser.Run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("svg.graph .node")].map(n => n.dataset.operator)`))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range v.Graph.Nodes {
		want = append(want, n.Name)
	}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("graph nodes %q, the job's operators %q", names, want)
	}
	// More records arrive; the throughput chart gains a point a poll.
	putNumbers(t, l, "in", 100, 500)
	if _, err := browser.Run(b, chromedp.Poll[chromedp.Void](`Number(document.querySelector("svg.chart").getAttribute("data-points")) >= 3`)); err != nil {
		t.Fatalf("the job's throughput chart did not update: %v", err)
	}
	b.Screenshot("job")
	// The SQL editor submits a pipeline and opens its job.
	before := len(e.svc.jobsM.list())
	sql := fmt.Sprintf(`CREATE TABLE g (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE b (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO b SELECT id FROM g;`)
	if err := b.Do(chromedp.Navigate(base+"#/sql"), chromedp.WaitVisible(chromedp.ID("sql-text")),
		chromedp.SetValue(chromedp.ID("sql-text"), sql), chromedp.SetValue(chromedp.ID("sql-name"), "from-the-editor")); err != nil {
		t.Fatal(err)
	}
	b.Screenshot("sql")
	if err := b.Do(chromedp.Click(chromedp.ID("sql-submit")), chromedp.WaitVisible(chromedp.CSS("svg.graph"))); err != nil {
		t.Fatal(err)
	}
	if n := len(e.svc.jobsM.list()); n != before+1 {
		t.Fatalf("%d jobs after the editor's submit, want %d", n, before+1)
	}
	// A bad pipeline shows the SQL error with its position.
	if err := b.Do(chromedp.Navigate(base+"#/sql"), chromedp.WaitVisible(chromedp.ID("sql-text")),
		chromedp.SetValue(chromedp.ID("sql-text"), "INSERT INTO nowhere SELECT 1;"), chromedp.Click(chromedp.ID("sql-submit")),
		chromedp.WaitVisible(chromedp.CSS("#sql-result .error-box"))); err != nil {
		t.Fatal(err)
	}
	msg, err := browser.Run(b, chromedp.Text(chromedp.CSS("#sql-result .error-box")))
	if err != nil || !strings.Contains(msg, "nowhere") {
		t.Fatalf("the editor's error: %q %v", msg, err)
	}
	for _, e := range b.Errors() {
		// The browser logs the failed submit's 400 itself.
		if !strings.Contains(e, "400") {
			t.Errorf("browser: %s", e)
		}
	}
}
