package firehoseapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/firehose"
)

func ptr[T any](v T) *T { return &v }

// TestHTTPEndpointConfig maps an HttpEndpoint destination onto the
// delivery's configuration: endpoint, access key, encoding, attributes,
// retries, buffering, and its S3 configuration as the backup.
func TestHTTPEndpointConfig(t *testing.T) {
	s := &Server{opts: Options{Region: "eu-west-1"}}
	ds := DeliveryStream{Name: "h", Version: 3, HTTP: &HttpEndpointDestinationConfiguration{
		EndpointConfiguration: &HttpEndpointConfiguration{Url: ptr("https://collector.example/ingest"), AccessKey: ptr("k")},
		BufferingHints:        &BufferingHints{SizeInMBs: ptr(int64(2)), IntervalInSeconds: ptr(int64(10))},
		RequestConfiguration: &HttpEndpointRequestConfiguration{ContentEncoding: ptr("GZIP"),
			CommonAttributes: []HttpEndpointCommonAttribute{{AttributeName: ptr("env"), AttributeValue: ptr("prod")}}},
		RetryOptions: &struct {
			DurationInSeconds *int64 `json:"DurationInSeconds,omitempty"`
		}{ptr(int64(60))},
		S3BackupMode:    ptr("AllData"),
		S3Configuration: &S3DestinationConfiguration{BucketARN: ptr("arn:aws:s3:::backup"), Prefix: ptr("raw/")},
	}}
	cfg, err := s.deliveryConfig(ds)
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.HTTPEndpoint
	if h == nil || h.URL != "https://collector.example/ingest" || h.AccessKey != "k" || h.ContentEncoding != "GZIP" || h.CommonAttributes["env"] != "prod" {
		t.Fatalf("endpoint: %+v", h)
	}
	if cfg.Name != "h" || cfg.Version != 3 || cfg.Region != "eu-west-1" || cfg.Buffering.SizeInMBs != 2 || *cfg.Buffering.IntervalInSeconds != 10 || *cfg.RetryDurationInSeconds != 60 {
		t.Fatalf("config: %+v", cfg)
	}
	if b := cfg.Backup; b == nil || b.Mode != firehose.BackupAllData || b.S3 == nil || b.S3.Bucket != "backup" || b.Prefix != "raw/" {
		t.Fatalf("backup: %+v", cfg.Backup)
	}
}

// TestS3ConfigRefusals: what the delivery cannot do is refused with
// InvalidArgumentException naming it, and the delivery's own checks
// (prefixes) come back as InvalidArgumentException too.
func TestS3ConfigRefusals(t *testing.T) {
	s := &Server{opts: Options{Region: "us-east-1"}}
	base := func() *ExtendedS3DestinationConfiguration {
		return &ExtendedS3DestinationConfiguration{S3DestinationConfiguration: S3DestinationConfiguration{BucketARN: ptr("arn:aws:s3:::lake")}}
	}
	cases := map[string]func(c *ExtendedS3DestinationConfiguration){
		"Processor type Lambda is not supported": func(c *ExtendedS3DestinationConfiguration) {
			c.ProcessingConfiguration = &ProcessingConfiguration{Enabled: ptr(true), Processors: []Processor{{Type: ptr("Lambda")}}}
		},
		"DynamicPartitioningConfiguration is not supported": func(c *ExtendedS3DestinationConfiguration) {
			c.DynamicPartitioningConfiguration = &DynamicPartitioningConfiguration{Enabled: ptr(true)}
		},
		"DataFormatConversionConfiguration is not supported": func(c *ExtendedS3DestinationConfiguration) {
			c.DataFormatConversionConfiguration = &map[string]any{"Enabled": true}
		},
		"S3BackupConfiguration is required": func(c *ExtendedS3DestinationConfiguration) { c.S3BackupMode = ptr("Enabled") },
		"prefix":                            func(c *ExtendedS3DestinationConfiguration) { c.Prefix = ptr("!{nope}") },
	}
	for want, mutate := range cases {
		c := base()
		mutate(c)
		_, err := s.deliveryConfig(DeliveryStream{Name: "x", Version: 1, S3: c})
		var ae *apiError
		if !errors.As(err, &ae) || ae.code != codeInvalidArgument || !strings.Contains(strings.ToLower(ae.msg), strings.ToLower(want)) {
			t.Errorf("%s: got %v", want, err)
		}
	}
	c := base()
	c.ProcessingConfiguration = &ProcessingConfiguration{Enabled: ptr(true), Processors: []Processor{{Type: ptr("AppendDelimiterToRecord")}}}
	c.CompressionFormat = ptr("GZIP")
	cfg, err := s.deliveryConfig(DeliveryStream{Name: "x", Version: 1, S3: c})
	if err != nil || !cfg.Format.AppendNewline || cfg.Compression != "GZIP" || cfg.S3.Bucket != "lake" {
		t.Fatalf("append delimiter: %v %+v", err, cfg)
	}
}
