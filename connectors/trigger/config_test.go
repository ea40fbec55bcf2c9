package trigger

import (
	"strings"
	"testing"
)

const testARN = "arn:aws:kinesis:us-east-1:000000000000:stream/orders"

func baseConfig() Config {
	return Config{Name: "t1", EventSourceArn: testARN, StartingPosition: TrimHorizon, Function: Function{URL: "http://127.0.0.1:1/f"}}
}

// TestConfigDefaults: unset settings take Lambda's defaults.
func TestConfigDefaults(t *testing.T) {
	c := baseConfig()
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	s := c.settings()
	if s.batchSize != 100 || s.window != 0 || s.parallel != 1 || s.maxRetries != -1 || s.maxAge != 0 || s.bisect || s.partial || s.timeout.Seconds() != 60 {
		t.Fatalf("defaults: %+v", s)
	}
	if c.InvokeIdentityArn != "arn:aws:iam::000000000000:role/sluice-trigger" {
		t.Fatalf("invokeIdentityArn %q", c.InvokeIdentityArn)
	}
}

// TestConfigRefusals: each bad setting is refused with the error code and
// message Lambda's CreateEventSourceMapping gives (or a message in its
// manner where the rule is the trigger's own).
func TestConfigRefusals(t *testing.T) {
	i := func(v int) *int { return &v }
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"batch size 0", func(c *Config) { c.BatchSize = i(0) }, "ValidationException: 1 validation error detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"batch size 10001", func(c *Config) { c.BatchSize = i(10001) }, "ValidationException: 1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"two at once", func(c *Config) { c.BatchSize = i(0); c.ParallelizationFactor = i(11) }, "ValidationException: 2 validation errors detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '11' at 'parallelizationFactor' failed to satisfy constraint: Member must have value less than or equal to 10"},
		{"window 301", func(c *Config) { c.MaximumBatchingWindowInSeconds = i(301) }, "Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300"},
		{"retries -2", func(c *Config) { c.MaximumRetryAttempts = i(-2) }, "Value '-2' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to -1"},
		{"retries 10001", func(c *Config) { c.MaximumRetryAttempts = i(10001) }, "Member must have value less than or equal to 10000"},
		{"age 604801", func(c *Config) { c.MaximumRecordAgeInSeconds = i(604801) }, "Value '604801' at 'maximumRecordAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 604800"},
		{"age 59", func(c *Config) { c.MaximumRecordAgeInSeconds = i(59) }, "InvalidParameterValueException: MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"},
		{"age 0", func(c *Config) { c.MaximumRecordAgeInSeconds = i(0) }, "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"},
		{"position", func(c *Config) { c.StartingPosition = "EARLIEST" }, "Value 'EARLIEST' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]"},
		{"no position", func(c *Config) { c.StartingPosition = "" }, "InvalidParameterValueException: StartingPosition is required"},
		{"timestamp missing", func(c *Config) { c.StartingPosition = AtTimestamp }, "StartingPositionTimestamp must be set when StartingPosition is AT_TIMESTAMP"},
		{"timestamp without AT_TIMESTAMP", func(c *Config) { c.StartingPositionTimestamp = f(1) }, "StartingPositionTimestamp can only be set when StartingPosition is AT_TIMESTAMP"},
		{"response type", func(c *Config) { c.FunctionResponseTypes = []string{"Partial"} }, "Value '[Partial]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]"},
		{"source", func(c *Config) { c.EventSourceArn = "orders" }, `EventSourceArn "orders" is not a Kinesis stream ARN`},
		{"name", func(c *Config) { c.Name = "a b" }, `Name "a b" must be 1 to 64 characters`},
		{"no function", func(c *Config) { c.Function = Function{} }, "Function needs a Url (an HTTP endpoint) or a Command"},
		{"both", func(c *Config) { c.Function.Command = []string{"cat"} }, "Function takes a Url or a Command, not both"},
		{"url", func(c *Config) { c.Function.URL = "ftp://x" }, `Function Url "ftp://x" must be an http:// or https:// URL`},
		{"timeout", func(c *Config) { c.Function.TimeoutSeconds = i(901) }, "Function TimeoutSeconds 901 must be between 1 and 900"},
		{"destination", func(c *Config) {
			c.DestinationConfig = &DestinationConfig{OnFailure: &OnFailure{Destination: "arn:aws:sqs:us-east-1:000000000000:q"}}
		}, "The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination=arn:aws:sqs:us-east-1:000000000000:q)) is invalid"},
		{"relative directory", func(c *Config) {
			c.DestinationConfig = &DestinationConfig{OnFailure: &OnFailure{Destination: "file://dlq"}}
		}, `The provided destination "file://dlq" is not a file:///absolute/path URL`},
		{"itself", func(c *Config) { c.DestinationConfig = &DestinationConfig{OnFailure: &OnFailure{Destination: testARN}} }, "is the event source itself"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig()
			tc.edit(&c)
			err := c.Normalize()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestParseConfigRefusesUnknownFields: a misspelt setting is an error, not
// a silently ignored default.
func TestParseConfigRefusesUnknownFields(t *testing.T) {
	_, err := ParseConfig([]byte(`{"Name":"a","EventSourceArn":"` + testARN + `","StartingPosition":"LATEST","Function":{"Url":"http://h/"},"BatchSise":5}`))
	if err == nil || !strings.Contains(err.Error(), `unknown field "BatchSise"`) {
		t.Fatalf("got %v", err)
	}
	c, err := ParseConfig([]byte(`{"Name":"a","EventSourceArn":"` + testARN + `","StartingPosition":"LATEST","Function":{"Url":"http://h/"},"BatchSize":5,"FunctionResponseTypes":["ReportBatchItemFailures"]}`))
	if err != nil || *c.BatchSize != 5 || !c.settings().partial {
		t.Fatalf("got %+v, %v", c, err)
	}
}
