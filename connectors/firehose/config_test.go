package firehose

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestParseConfig reads the example configuration file documented on
// ParseConfig and refuses malformed ones.
func TestParseConfig(t *testing.T) {
	b, err := os.ReadFile("testdata/example-config.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "orders" || c.S3 == nil || c.S3.Bucket != "lake" || !c.S3.UsePathStyle || c.Partitioning.Keys["customer"] != "customer_id" ||
		c.Format.Parquet == nil || len(c.Format.Parquet.Columns) != 4 || c.Format.Parquet.Options.Compression != "SNAPPY" ||
		*c.Buffering.IntervalInSeconds != 60 {
		t.Fatalf("parsed %+v", c)
	}
	if c.Version != 0 || c.Compression != "" {
		t.Error("ParseConfig applied defaults to its result")
	}
	// The file's Parquet columns drive conversion.
	c.EnsureDefaults()
	cc, err := c.compile()
	if err != nil {
		t.Fatal(err)
	}
	if f := cc.schema.Arrow().Field(2); f.Name != "amount" || !f.Nullable || f.Type.String() != "float64" {
		t.Errorf("column 2: %v", f)
	}
	for name, bad := range map[string]string{
		"unknown field":   `{"name":"x","directory":{"path":"/tmp/x"},"bogus":1}`,
		"no destination":  `{"name":"x"}`,
		"bad column type": `{"name":"x","directory":{"path":"/tmp/x"},"format":{"type":"parquet","parquet":{"columns":[{"name":"a","type":"decimal"}]}}}`,
		"trailing data":   `{"name":"x","directory":{"path":"/tmp/x"}} {}`,
		"go transform":    `{"name":"x","directory":{"path":"/tmp/x"},"processing":{}}`,
		"bad interval":    `{"name":"x","directory":{"path":"/tmp/x"},"buffering":{"interval_in_seconds":901}}`,
	} {
		if _, err := ParseConfig([]byte(bad)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		} else if testing.Verbose() {
			t.Logf("%s: %v", name, strings.TrimPrefix(err.Error(), ErrConfig.Error()+": "))
		}
	}
}
