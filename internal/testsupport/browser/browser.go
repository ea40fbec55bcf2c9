// Package browser drives a headless Chromium for tests through the DevTools
// protocol (chromedp): it finds the browser (SLUICE_CHROMIUM, else chromium
// or google-chrome on PATH), collects the page's console errors and
// uncaught exceptions, and saves screenshots as test artefacts.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Path returns the browser's executable, or "" when there is none.
func Path() string {
	if p := os.Getenv("SLUICE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one headless browser tab.
type Browser struct {
	Ctx context.Context
	t   testing.TB

	mu     sync.Mutex
	errors []string
}

// New starts a headless browser for t (skipping t, or failing it when
// SLUICE_REQUIRE_INTEGRATION=1, if there is no browser); it is closed
// when t ends.
func New(t testing.TB) *Browser {
	t.Helper()
	path := Path()
	if path == "" {
		if os.Getenv("SLUICE_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("no Chromium (install Debian's chromium or set SLUICE_CHROMIUM)")
		}
		t.Skip("no Chromium (install Debian's chromium or set SLUICE_CHROMIUM)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900), // a laptop screen
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &Browser{t: t}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				b.addError("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			b.addError(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		}
	}))
	b.Ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return b
}

func (b *Browser) addError(s string) {
	b.mu.Lock()
	b.errors = append(b.errors, s)
	b.mu.Unlock()
}

// Errors returns the console errors and uncaught exceptions seen so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Do runs steps with a time bound of a minute.
func (b *Browser) Do(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.Ctx, time.Minute)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// Run runs a with a time bound of a minute and returns its value.
func Run[T any](b *Browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.Ctx, time.Minute)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// Screenshot saves a full-page PNG of the current page as name.png under
// the artefacts directory (SLUICE_ARTIFACTS, else .ci/state/artifacts
// when SLUICE_CI_STATE is set, else the test's temporary directory) and
// returns its path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	png, err := Run(b, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := ArtifactsDir(b.t)
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// ArtifactsDir is where tests save what a person may want to look at.
func ArtifactsDir(t testing.TB) string {
	dir := os.Getenv("SLUICE_ARTIFACTS")
	if dir == "" && os.Getenv("SLUICE_CI_STATE") != "" {
		dir = filepath.Join(os.Getenv("SLUICE_CI_STATE"), "artifacts")
	}
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artefacts: %v", err)
	}
	return dir
}
