package kinesis

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewClientConfig(t *testing.T) {
	// No shared files, no region from the environment.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "credentials"))
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	for _, tc := range []struct {
		cfg  ClientConfig
		want string
	}{
		{ClientConfig{Credentials: CredentialsBasic, Region: "us-east-1", AccessKeyID: "AKID"}, "BASIC credentials need an access key id and a secret key"},
		{ClientConfig{Credentials: CredentialsBasic, AccessKeyID: "AKID", SecretKey: "s"}, "BASIC credentials need a region"},
		{ClientConfig{}, "no region: set one, or AWS_REGION"},
		{ClientConfig{Credentials: 7, Region: "us-east-1"}, "unknown credentials provider 7"},
	} {
		if _, err := NewClient(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
	c, err := NewClient(context.Background(), ClientConfig{Region: "eu-west-1", Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Options(); o.Region != "eu-west-1" || o.BaseEndpoint == nil || *o.BaseEndpoint != "http://127.0.0.1:1" {
		t.Fatalf("options %+v", o)
	}
}
