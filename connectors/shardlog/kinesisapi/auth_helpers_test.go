package kinesisapi

import (
	"testing"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// testCredentials are the keys the SDK, JavaScript and CLI tests sign
// with, all with the secret "secret".
func testCredentials(t testing.TB, l *shardlog.Log) *Credentials {
	t.Helper()
	c, err := NewCredentials(l.Options().AccountID, []Principal{
		{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"},
		{AccessKeyID: "AKID", SecretAccessKey: "secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
