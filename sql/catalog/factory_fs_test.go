package catalog_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/sql/catalog"
)

func TestParseMemorySize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{{"1024", 1024}, {"128mb", 128 << 20}, {"1 kb", 1 << 10}, {"64 MiB", 64 << 20}, {"2g", 2 << 30}, {" 7 b ", 7}, {"1tb", 1 << 40}} {
		got, err := catalog.ParseMemorySize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseMemorySize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "mb", "1.5mb", "12 parsecs", "-1", "99999999999tb"} {
		if n, err := catalog.ParseMemorySize(bad); err == nil {
			t.Errorf("ParseMemorySize(%q) = %d, want an error", bad, n)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{{"500", 500 * time.Millisecond}, {"10s", 10 * time.Second}, {"30 min", 30 * time.Minute}, {"1 h", time.Hour},
		{"2 d", 48 * time.Hour}, {"100 ms", 100 * time.Millisecond}, {"3 seconds", 3 * time.Second}} {
		got, err := catalog.ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "soon", "1.5 s", "10 fortnights", "9999999999999 d"} {
		if d, err := catalog.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}
