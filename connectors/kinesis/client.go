package kinesis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

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
	// CredentialsEnv is the key pair in AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (Flink's ENV_VAR).
	CredentialsEnv
	// CredentialsProfile is a profile of the shared credentials file
	// (Flink's PROFILE): Profile (default: AWS_PROFILE, else "default")
	// in ProfilePath (default: ~/.aws/credentials).
	CredentialsProfile
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
	// SessionToken are CredentialsBasic's, Profile and ProfilePath
	// CredentialsProfile's.
	Credentials                          Credentials
	AccessKeyID, SecretKey, SessionToken string
	Profile, ProfilePath                 string
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
	case CredentialsEnv:
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" || os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
			return errors.New("kinesis: ENV_VAR credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
		}
	case CredentialsProfile:
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
	switch cfg.Credentials {
	case CredentialsBasic:
		loads = append(loads, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretKey, cfg.SessionToken)))
	case CredentialsEnv:
		loads = append(loads, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))))
	case CredentialsProfile:
		profile := cfg.Profile
		if profile == "" {
			profile = os.Getenv("AWS_PROFILE")
		}
		if profile == "" {
			profile = "default"
		}
		sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
			if cfg.ProfilePath != "" {
				o.CredentialsFiles = []string{cfg.ProfilePath}
			}
		})
		if err != nil {
			return nil, fmt.Errorf("kinesis: PROFILE credentials: %w", err)
		}
		if sc.Credentials.HasKeys() {
			// The profile's keys, whatever the environment holds.
			loads = append(loads, config.WithCredentialsProvider(credentials.StaticCredentialsProvider{Value: sc.Credentials}))
		} else {
			// A profile of roles or SSO: the SDK resolves it.
			loads = append(loads, config.WithSharedConfigProfile(profile))
			if cfg.ProfilePath != "" {
				loads = append(loads, config.WithSharedCredentialsFiles([]string{cfg.ProfilePath}))
			}
		}
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
