package kinesis

import (
	"context"
	"os"
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

// TestNewClientCredentialProviders: ENV_VAR takes the environment's key
// pair, PROFILE a profile of a credentials file.
func TestNewClientCredentialProviders(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := NewClient(context.Background(), ClientConfig{Region: "us-east-1", Credentials: CredentialsEnv}); err == nil ||
		!strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set") {
		t.Fatalf("got %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secretenv")
	creds := func(cfg ClientConfig) string {
		t.Helper()
		c, err := NewClient(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.Options().Credentials.Retrieve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return v.AccessKeyID + "/" + v.SecretAccessKey
	}
	if got := creds(ClientConfig{Region: "us-east-1", Credentials: CredentialsEnv}); got != "AKIDENV/secretenv" {
		t.Fatalf("ENV_VAR: %s", got)
	}
	path := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(path, []byte("[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = sdef\n[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = sother\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The environment's keys do not override the profile's.
	if got := creds(ClientConfig{Region: "us-east-1", Credentials: CredentialsProfile, Profile: "other", ProfilePath: path}); got != "AKIDOTHER/sother" {
		t.Fatalf("PROFILE other: %s", got)
	}
	if got := creds(ClientConfig{Region: "us-east-1", Credentials: CredentialsProfile, ProfilePath: path}); got != "AKIDDEF/sdef" {
		t.Fatalf("PROFILE default: %s", got)
	}
}
