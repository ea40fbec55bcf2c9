package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms a client can authenticate with.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// ClientOptions say how to reach the cluster. Sources and sinks share them.
type ClientOptions struct {
	// Brokers are the seed brokers, host:port (required).
	Brokers []string
	// TLS, if set, encrypts the connections with this configuration.
	TLS *tls.Config
	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no
	// SASL); SASLUser and SASLPassword are its credentials.
	SASLMechanism          string
	SASLUser, SASLPassword string
	// ClientID names the client to the brokers (default "sluice").
	ClientID string
	// MetadataTimeout bounds the first metadata request of a source or a
	// sink, so that unreachable brokers fail the job with an error naming
	// them instead of a silent wait. Default 30 s.
	MetadataTimeout time.Duration
	// Extra are more franz-go options, applied last.
	Extra []kgo.Opt
}

func (o *ClientOptions) ensureDefaults() {
	if o.ClientID == "" {
		o.ClientID = "sluice"
	}
	if o.MetadataTimeout == 0 {
		o.MetadataTimeout = 30 * time.Second
	}
}

func (o *ClientOptions) validate() error {
	if len(o.Brokers) == 0 {
		return errors.New("kafka: no bootstrap brokers")
	}
	for _, b := range o.Brokers {
		if strings.TrimSpace(b) == "" {
			return errors.New("kafka: an empty bootstrap broker address")
		}
	}
	switch o.SASLMechanism {
	case "":
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if o.SASLUser == "" {
			return fmt.Errorf("kafka: SASL %s needs a user name", o.SASLMechanism)
		}
	default:
		return fmt.Errorf("kafka: unsupported SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", o.SASLMechanism)
	}
	return nil
}

// mechanism returns the SASL mechanism of the options, or nil.
func (o *ClientOptions) mechanism() sasl.Mechanism {
	switch o.SASLMechanism {
	case SASLPlain:
		return plain.Auth{User: o.SASLUser, Pass: o.SASLPassword}.AsMechanism()
	case SASLScramSHA256:
		return scram.Auth{User: o.SASLUser, Pass: o.SASLPassword}.AsSha256Mechanism()
	case SASLScramSHA512:
		return scram.Auth{User: o.SASLUser, Pass: o.SASLPassword}.AsSha512Mechanism()
	}
	return nil
}

// kgoOpts returns the connection options, then more.
func (o *ClientOptions) kgoOpts(more ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(o.Brokers...), kgo.ClientID(o.ClientID)}
	if o.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(o.TLS.Clone()))
	}
	if m := o.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	opts = append(opts, more...)
	return append(opts, o.Extra...)
}

// newClient returns a client with the connection options and more.
func (o *ClientOptions) newClient(more ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(o.kgoOpts(more...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: client for %s: %w", strings.Join(o.Brokers, ","), err)
	}
	return cl, nil
}

// reachable checks that the brokers answer a metadata request within the
// options' timeout; the error names the brokers.
func (o *ClientOptions) reachable(ctx context.Context, adm *kadm.Client) error {
	ctx, cancel := context.WithTimeout(ctx, o.MetadataTimeout)
	defer cancel()
	if _, err := adm.BrokerMetadata(ctx); err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("brokers %s did not answer within %s: %w", strings.Join(o.Brokers, ","), o.MetadataTimeout, err)
		}
		return fmt.Errorf("brokers %s: %w", strings.Join(o.Brokers, ","), err)
	}
	return nil
}

// topicPartitions lists the partitions of topics (or of every topic when
// topics is empty), failing on a topic that does not exist.
func topicPartitions(ctx context.Context, adm *kadm.Client, topics []string) (map[string][]int32, error) {
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	out := map[string][]int32{}
	for _, t := range md.Topics.Sorted() {
		if t.Err != nil {
			if errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
				return nil, fmt.Errorf("topic %q does not exist", t.Topic)
			}
			return nil, fmt.Errorf("metadata of topic %q: %w", t.Topic, t.Err)
		}
		if t.IsInternal {
			continue
		}
		out[t.Topic] = t.Partitions.Numbers()
	}
	return out, nil
}
