package kinesisapi

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoEngineDependency checks that the wire server links neither the
// engine nor the state package nor Pebble: it serves the log, and must stay
// small to build and to run.
func TestNoEngineDependency(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		goTool = filepath.Join(strings.TrimSpace(string(out)), "bin", "go")
	}
	if _, err := exec.LookPath(goTool); err != nil {
		t.Skipf("the go tool is not available (%v): cannot list the package's dependencies", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"github.com/sluicehq/sluice/engine",
			"github.com/sluicehq/sluice/state",
			"github.com/sluicehq/sluice/operators",
			"github.com/cockroachdb/pebble",
		} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("kinesisapi depends on %s", dep)
			}
		}
	}
}
