package kinesis

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// API is the part of the Kinesis API the connector calls. *kinesis.Client
// implements it; tests wrap it to inject failures.
type API interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, opts ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

var _ API = (*kinesis.Client)(nil)

// Credentials says where a client's credentials come from.
type Credentials int

const (
	// CredentialsAuto is the SDK's default chain: environment, shared
	// files, web identity, container and instance roles (Flink's AUTO).
	CredentialsAuto Credentials = iota
	// CredentialsBasic is a fixed access key id and secret key (Flink's
	// BASIC).
	CredentialsBasic
)

// ClientConfig configures a Kinesis client.
type ClientConfig struct {
	// Region is the AWS region, e.g. us-east-1. With CredentialsAuto it
	// may be left empty for the SDK to find (AWS_REGION, shared config).
	Region string
	// Endpoint overrides the service endpoint, e.g. http://127.0.0.1:4567
	// for a local server. Empty: the region's endpoint.
	Endpoint string
	// Credentials selects the provider; AccessKeyID, SecretKey and
	// SessionToken are CredentialsBasic's.
	Credentials                          Credentials
	AccessKeyID, SecretKey, SessionToken string
	// HTTPClient replaces the SDK's HTTP client (nil: the SDK's).
	HTTPClient *http.Client
	// Retryer replaces the SDK's retryer (nil: the SDK's standard one).
	Retryer func() aws.Retryer
}

// Validate reports a configuration that cannot work.
func (c *ClientConfig) Validate() error {
	switch c.Credentials {
	case CredentialsAuto:
	case CredentialsBasic:
		if c.AccessKeyID == "" || c.SecretKey == "" {
			return errors.New("kinesis: BASIC credentials need an access key id and a secret key")
		}
		if c.Region == "" {
			return errors.New("kinesis: BASIC credentials need a region")
		}
	default:
		return fmt.Errorf("kinesis: unknown credentials provider %d", c.Credentials)
	}
	return nil
}

// NewClient returns an SDK client for cfg.
func NewClient(ctx context.Context, cfg ClientConfig) (*kinesis.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var loads []func(*config.LoadOptions) error
	if cfg.Region != "" {
		loads = append(loads, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials == CredentialsBasic {
		loads = append(loads, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretKey, cfg.SessionToken)))
	}
	if cfg.Retryer != nil {
		loads = append(loads, config.WithRetryer(cfg.Retryer))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("kinesis: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("kinesis: no region: set one, or AWS_REGION")
	}
	return kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.HTTPClient != nil {
			// Set here rather than through the shared configuration, which
			// refuses a plain *http.Client when AWS_CA_BUNDLE is set.
			o.HTTPClient = cfg.HTTPClient
		}
	}), nil
}
