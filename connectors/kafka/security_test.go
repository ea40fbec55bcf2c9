package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/engine"
)

// TestSASL writes and reads through each SASL mechanism against a kfake
// cluster that requires it; a wrong password fails with the brokers'
// answer.
func TestSASL(t *testing.T) {
	for _, mech := range []string{SASLPlain, SASLScramSHA256, SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech, "alice", "s3cret"),
				kfake.Superuser(SASLScramSHA256, "admin", "admin"), kfake.SeedTopics(2, "sec"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			co := ClientOptions{Brokers: c.ListenAddrs(), SASLMechanism: mech, SASLUser: "alice", SASLPassword: "s3cret", MetadataTimeout: 5 * time.Second}
			sink, err := NewSink(SinkOptions{Client: co, Topic: "sec", Guarantee: ExactlyOnce, TransactionalIDPrefix: "sec"}, msgMessage)
			if err != nil {
				t.Fatal(err)
			}
			j := engine.NewJob("w", engine.Config{Checkpoint: engine.CheckpointConfig{Interval: 5 * time.Millisecond, Dir: t.TempDir()}})
			SinkTo(engine.FromPartitions(j, "in", [][]msg{{{val: "a"}, {val: "b"}, {val: "c"}}}, engine.WatermarkStrategy[msg]{}), "kafka", sink)
			if err := j.Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			rs, err := readBounded(t, SourceOptions{Client: co, Topics: []string{"sec"}}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := values(rs); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("read %q", got)
			}
			bad := co
			bad.SASLPassword = "wrong"
			bad.Extra = []kgo.Opt{kgo.RequestRetries(0)}
			_, err = readBounded(t, SourceOptions{Client: bad, Topics: []string{"sec"}}, 1)
			// kfake closes the connection of a failed authentication.
			if err == nil || !strings.Contains(err.Error(), "kafka: source: brokers 127.0.0.1:") {
				t.Fatalf("a wrong password: %v", err)
			}
		})
	}
}

// TestTLS reads and writes over TLS with a certificate the client trusts,
// and refuses one it does not.
func TestTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "tls"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	co := ClientOptions{Brokers: c.ListenAddrs(), TLS: &tls.Config{RootCAs: roots}, MetadataTimeout: 5 * time.Second}
	sink, err := NewSink(SinkOptions{Client: co, Topic: "tls"}, msgMessage)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("w", engine.Config{})
	SinkTo(engine.FromPartitions(j, "in", [][]msg{{{val: "x"}}}, engine.WatermarkStrategy[msg]{}), "kafka", sink)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs, err := readBounded(t, SourceOptions{Client: co, Topics: []string{"tls"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := values(rs); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("read %q", got)
	}
	untrusted := co
	untrusted.TLS = &tls.Config{RootCAs: x509.NewCertPool()}
	untrusted.MetadataTimeout = 2 * time.Second
	if _, err := readBounded(t, SourceOptions{Client: untrusted, Topics: []string{"tls"}}, 1); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an untrusted certificate: %v", err)
	}
}
