package layers

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const mod = "github.com/sluicehq/sluice/"

// rules: for each package (and its sub-packages where marked with /...),
// the import paths it must not depend on, directly or indirectly. A path
// ending in / bans everything under it.
var rules = []struct {
	pkg    string
	banned []string
}{
	{"internal/clock", []string{mod}},
	{"internal/durable", []string{mod}},
	{"internal/backoff", []string{mod + "engine", mod + "state", mod + "connectors"}},
	{"state/...", []string{mod + "engine", mod + "operators", mod + "connectors", mod + "sql", "github.com/aws/", "github.com/apache/arrow-go/", "github.com/parquet-go/"}},
	{"engine", []string{mod + "operators", mod + "connectors", mod + "sql", "github.com/aws/", "github.com/apache/arrow-go/", "github.com/parquet-go/", "github.com/twmb/", "go.etcd.io/"}},
	{"engine/cluster", []string{mod, "go.etcd.io/"}},
	{"engine/cluster/etcdcluster", []string{mod + "state", mod + "operators", mod + "connectors", mod + "sql"}},
	{"engine/netexchange", []string{mod + "operators", mod + "connectors", mod + "sql", mod + "internal/bench", "github.com/aws/", "github.com/apache/arrow-go/", "github.com/parquet-go/", "github.com/twmb/"}},
	{"operators/...", []string{mod + "connectors", mod + "sql", "github.com/aws/", "github.com/apache/arrow-go/", "github.com/parquet-go/"}},
	{"connectors/shardlog", []string{mod + "engine", mod + "state", mod + "operators"}},
	{"connectors/shardlog/kinesisapi", []string{mod + "engine", mod + "state", mod + "operators", "github.com/cockroachdb/pebble", "github.com/prometheus/"}},
	{"connectors/kpl", []string{mod + "engine", mod + "state", mod + "operators", mod + "connectors/", mod + "sql/", "github.com/aws/"}},
	{"connectors/video", []string{mod + "engine", mod + "state", mod + "operators", mod + "sql/", "github.com/aws/"}},
	{"connectors/kinesis", []string{mod + "connectors/shardlog/", mod + "operators", mod + "sql/"}},
	{"connectors/kafka", []string{mod + "connectors/shardlog/", mod + "operators", mod + "sql/", "github.com/aws/"}},
	{"sql/diag", []string{mod + "engine", mod + "state"}},
	{"sql/ast", []string{mod + "engine", mod + "state"}},
	{"sql/parser", []string{mod + "engine", mod + "state"}},
	{"sql/types", []string{mod + "engine"}},
	{"sql/format", []string{mod + "engine", mod + "state", mod + "connectors", mod + "sql/catalog", mod + "sql/planner"}},
	{"sql/tableenv", []string{mod + "sql/session", mod + "cmd/"}},
}

func goTool(t *testing.T) string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to list dependencies: %v", err)
	}
	return p
}

func TestImportRules(t *testing.T) {
	gt := goTool(t)
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			cmd := exec.Command(gt, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "../../"+r.pkg)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", r.pkg, err, out)
			}
			self := mod + strings.TrimSuffix(r.pkg, "/...")
			for _, dep := range strings.Fields(string(out)) {
				if dep == self || strings.HasPrefix(dep, self+"/") {
					continue
				}
				for _, b := range r.banned {
					if dep == strings.TrimSuffix(b, "/") || strings.HasPrefix(dep, b) && (strings.HasSuffix(b, "/") || len(dep) == len(b) || dep[len(b)] == '/') {
						t.Errorf("%s depends on %s (banned: %s); see docs/architecture.md", r.pkg, dep, b)
					}
				}
			}
		})
	}
}
