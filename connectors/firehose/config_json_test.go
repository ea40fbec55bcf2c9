package firehose

import (
	"errors"
	"strings"
	"testing"
)

// TestParseConfigSpeaksJSON: errors in a configuration file name the JSON
// keys the user wrote and, for malformed text, a line and column.
func TestParseConfigSpeaksJSON(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"size out of range", `{"name": "x", "buffering": {"size_in_mbs": 500}, "directory": {"path": "/tmp/x"}}`,
			"buffering.size_in_mbs 500 is outside 1–128"},
		{"interval out of range", `{"name": "x", "buffering": {"interval_in_seconds": 1000}, "directory": {"path": "/tmp/x"}}`,
			"buffering.interval_in_seconds must be within 0–900"},
		{"missing name", `{"directory": {"path": "/tmp/x"}}`, "name is required"},
		{"two destinations", `{"name": "x", "directory": {"path": "/tmp/x"}, "s3": {"bucket": "b"}}`,
			"exactly one of s3, directory and http_endpoint is required (have 2)"},
		{"missing directory path", `{"name": "x", "directory": {}}`, "directory.path is required"},
		{"parquet without columns", `{"name": "x", "format": {"type": "parquet"}, "directory": {"path": "/tmp/x"}}`,
			"format.parquet.columns is required when format.type is parquet"},
		{"compression with parquet", `{"name": "x", "compression": "GZIP", "format": {"type": "parquet", "parquet": {"columns": [{"name": "a", "type": "string"}]}}, "directory": {"path": "/tmp/x"}}`,
			"compression must be UNCOMPRESSED with Parquet conversion (set format.parquet.options.compression)"},
		{"truncated", "{\n  \"name\": \"x\",\n  \"buffering\": {\"size_in_mbs\": 5",
			"line 3, column 33: the JSON ends early"},
		{"syntax", "{\n  \"name\": \"x\",,\n}", "line 2, column 15: invalid character ','"},
		{"wrong type", "{\n  \"name\": \"x\",\n  \"buffering\": {\"size_in_mbs\": \"5\"}\n}",
			`line 3, column 34: buffering.size_in_mbs: expected an integer, found a JSON string`},
		{"unknown key", "{\n  \"name\": \"x\",\n  \"bufering\": {}\n}", `unknown key "bufering"`},
		{"empty", "  \n", "the file is empty; expected a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.file))
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %q\nwant it to contain %q", err, tc.want)
			}
			for _, goName := range []string{"SizeInMBs", "Buffering.", "Format.Parquet", "Go struct field"} {
				if strings.Contains(err.Error(), goName) {
					t.Fatalf("err = %q names Go field %q", err, goName)
				}
			}
		})
	}
}

// TestValidateSpeaksGo: a Go caller who builds a Config gets the Go names.
func TestValidateSpeaksGo(t *testing.T) {
	c := Config{Name: "x", Buffering: BufferingHints{SizeInMBs: 500}, Directory: &DirectoryConfig{Path: "/tmp/x"}}
	c.EnsureDefaults()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "Buffering.SizeInMBs 500") {
		t.Fatalf("Validate = %v", err)
	}
}
