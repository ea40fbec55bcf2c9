package trigger

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Starting positions (Lambda's EventSourcePosition).
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
)

// ReportBatchItemFailures is the one FunctionResponseTypes value.
const ReportBatchItemFailures = "ReportBatchItemFailures"

// Defaults and ranges of the settings, as CreateEventSourceMapping's for a
// Kinesis source.
const (
	DefaultBatchSize       = 100
	MaxBatchSize           = 10000
	MaxBatchingWindow      = 300
	MaxParallelization     = 10
	MaxRetryAttempts       = 10000
	MinRecordAge           = 60
	MaxRecordAge           = 604800
	DefaultFunctionTimeout = 60
	MaxFunctionTimeout     = 900
)

// Config is one trigger: the settings of a Lambda event source mapping for
// a Kinesis stream, with Lambda's names, and the function it calls. It is
// stored as JSON with these names. Pointer fields are optional: nil takes
// Lambda's default (Normalize fills them in).
type Config struct {
	// Name names the trigger (Lambda names a mapping by a UUID; a trigger
	// has a name its commands use): 1 to 64 of A-Z a-z 0-9 - _.
	Name string `json:"Name"`
	// EventSourceArn is the stream's ARN,
	// arn:aws:kinesis:REGION:ACCOUNT:stream/NAME.
	EventSourceArn string `json:"EventSourceArn"`
	// Endpoint is the Kinesis API the stream is read through (the AWS
	// service, or a `sluice log serve` elsewhere), http:// or https://;
	// empty: the embedded log of the data directory.
	Endpoint string   `json:"Endpoint,omitempty"`
	Function Function `json:"Function"`

	BatchSize                      *int   `json:"BatchSize,omitempty"`
	MaximumBatchingWindowInSeconds *int   `json:"MaximumBatchingWindowInSeconds,omitempty"`
	StartingPosition               string `json:"StartingPosition"`
	// StartingPositionTimestamp is Unix seconds (fractions allowed), with
	// AT_TIMESTAMP only.
	StartingPositionTimestamp  *float64           `json:"StartingPositionTimestamp,omitempty"`
	ParallelizationFactor      *int               `json:"ParallelizationFactor,omitempty"`
	MaximumRetryAttempts       *int               `json:"MaximumRetryAttempts,omitempty"`
	MaximumRecordAgeInSeconds  *int               `json:"MaximumRecordAgeInSeconds,omitempty"`
	BisectBatchOnFunctionError bool               `json:"BisectBatchOnFunctionError,omitempty"`
	FunctionResponseTypes      []string           `json:"FunctionResponseTypes,omitempty"`
	DestinationConfig          *DestinationConfig `json:"DestinationConfig,omitempty"`
	// InvokeIdentityArn is the event records' invokeIdentityArn (Lambda
	// puts the function's execution role there); default
	// arn:aws:iam::ACCOUNT:role/sluice-trigger.
	InvokeIdentityArn string `json:"InvokeIdentityArn,omitempty"`
}

// Function says what a trigger calls: an HTTP endpoint (Url) that gets
// each event as a POST, or a local command (Command, argv) that reads it
// on stdin. Exactly one is set.
type Function struct {
	URL     string   `json:"Url,omitempty"`
	Command []string `json:"Command,omitempty"`
	// Dir is the command's working directory (default: the caller's).
	Dir string `json:"Dir,omitempty"`
	// TimeoutSeconds bounds one invocation, as a Lambda function's
	// timeout (1-900, default 60); a call past it is a function error.
	TimeoutSeconds *int `json:"TimeoutSeconds,omitempty"`
}

// DestinationConfig is Lambda's: OnFailure receives a record of each batch
// the trigger gives up on.
type DestinationConfig struct {
	OnFailure *OnFailure `json:"OnFailure,omitempty"`
}

// OnFailure.Destination is another stream of the log
// (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME) or a local directory
// (file:///absolute/path).
type OnFailure struct {
	Destination string `json:"Destination"`
}

// ParameterError is a refused setting, named as Lambda names its
// refusals: Code is InvalidParameterValueException or ValidationException
// (the AWS request validation's "N validation errors detected: ...").
type ParameterError struct {
	Code    string
	Message string
}

func (e *ParameterError) Error() string { return e.Code + ": " + e.Message }

func invalidParameter(format string, args ...any) *ParameterError {
	return &ParameterError{Code: "InvalidParameterValueException", Message: fmt.Sprintf(format, args...)}
}

var (
	nameRe      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	streamArnRe = regexp.MustCompile(`^arn:aws:kinesis:([a-z]{2}(-gov)?-[a-z]+-\d):(\d{12}):stream/([a-zA-Z0-9_.-]{1,128})$`)
)

// StreamARN is the ARN of a log stream, as the log names it.
func StreamARN(region, account, stream string) string {
	return "arn:aws:kinesis:" + region + ":" + account + ":stream/" + stream
}

// ParseStreamARN splits a Kinesis stream ARN into region, account and
// stream name.
func ParseStreamARN(arn string) (region, account, stream string, ok bool) {
	m := streamArnRe.FindStringSubmatch(arn)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[3], m[4], true
}

// ParseConfig reads a trigger's JSON definition, refusing unknown fields,
// and normalizes it.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("trigger definition: %w", err)
	}
	if err := c.Normalize(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func ptr(v int) *int { return &v }

// Normalize checks every setting as CreateEventSourceMapping does for a
// Kinesis source and fills in Lambda's defaults. Range violations of the
// request model are reported together as a ValidationException, the
// rules between settings as an InvalidParameterValueException.
func (c *Config) Normalize() error {
	if !nameRe.MatchString(c.Name) {
		return invalidParameter("Name %q must be 1 to 64 characters of A-Z, a-z, 0-9, - and _", c.Name)
	}
	var v []string
	rng := func(p *int, member string, lo, hi int) {
		if p == nil {
			return
		}
		if *p < lo {
			v = append(v, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", *p, member, lo))
		} else if *p > hi {
			v = append(v, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", *p, member, hi))
		}
	}
	rng(c.BatchSize, "batchSize", 1, MaxBatchSize)
	rng(c.MaximumBatchingWindowInSeconds, "maximumBatchingWindowInSeconds", 0, MaxBatchingWindow)
	rng(c.ParallelizationFactor, "parallelizationFactor", 1, MaxParallelization)
	rng(c.MaximumRetryAttempts, "maximumRetryAttempts", -1, MaxRetryAttempts)
	rng(c.MaximumRecordAgeInSeconds, "maximumRecordAgeInSeconds", -1, MaxRecordAge)
	switch c.StartingPosition {
	case TrimHorizon, Latest, AtTimestamp, "":
	default:
		v = append(v, fmt.Sprintf("Value '%s' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]", c.StartingPosition))
	}
	if len(c.FunctionResponseTypes) > 1 {
		v = append(v, fmt.Sprintf("Value '%v' at 'functionResponseTypes' failed to satisfy constraint: Member must have length less than or equal to 1", c.FunctionResponseTypes))
	}
	for _, t := range c.FunctionResponseTypes {
		if t != ReportBatchItemFailures {
			v = append(v, fmt.Sprintf("Value '[%s]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]", t))
		}
	}
	if len(v) > 0 {
		word := "errors"
		if len(v) == 1 {
			word = "error"
		}
		return &ParameterError{Code: "ValidationException", Message: fmt.Sprintf("%d validation %s detected: %s", len(v), word, strings.Join(v, "; "))}
	}
	if _, _, _, ok := ParseStreamARN(c.EventSourceArn); !ok {
		return invalidParameter("EventSourceArn %q is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)", c.EventSourceArn)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalidParameter("Endpoint %q must be an http:// or https:// URL with a host", c.Endpoint)
		}
	}
	if c.StartingPosition == "" {
		return invalidParameter("StartingPosition is required for a Kinesis event source: TRIM_HORIZON, LATEST or AT_TIMESTAMP")
	}
	if c.StartingPosition == AtTimestamp {
		if c.StartingPositionTimestamp == nil {
			return invalidParameter("StartingPositionTimestamp must be set when StartingPosition is AT_TIMESTAMP")
		}
	} else if c.StartingPositionTimestamp != nil {
		return invalidParameter("StartingPositionTimestamp can only be set when StartingPosition is AT_TIMESTAMP")
	}
	if a := c.MaximumRecordAgeInSeconds; a != nil && *a != -1 && *a < MinRecordAge {
		return invalidParameter("MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)")
	}
	if err := c.Function.check(); err != nil {
		return err
	}
	if d := c.DestinationConfig; d != nil && d.OnFailure != nil {
		if err := c.checkDestination(d.OnFailure.Destination); err != nil {
			return err
		}
	}
	if c.BatchSize == nil {
		c.BatchSize = ptr(DefaultBatchSize)
	}
	if c.MaximumBatchingWindowInSeconds == nil {
		c.MaximumBatchingWindowInSeconds = ptr(0)
	}
	if c.ParallelizationFactor == nil {
		c.ParallelizationFactor = ptr(1)
	}
	if c.MaximumRetryAttempts == nil {
		c.MaximumRetryAttempts = ptr(-1)
	}
	if c.MaximumRecordAgeInSeconds == nil {
		c.MaximumRecordAgeInSeconds = ptr(-1)
	}
	if c.Function.TimeoutSeconds == nil {
		c.Function.TimeoutSeconds = ptr(DefaultFunctionTimeout)
	}
	if c.InvokeIdentityArn == "" {
		_, account, _, _ := ParseStreamARN(c.EventSourceArn)
		c.InvokeIdentityArn = "arn:aws:iam::" + account + ":role/sluice-trigger"
	}
	return nil
}

func (f *Function) check() error {
	switch {
	case f.URL == "" && len(f.Command) == 0:
		return invalidParameter("Function needs a Url (an HTTP endpoint) or a Command (a program reading the event on stdin)")
	case f.URL != "" && len(f.Command) > 0:
		return invalidParameter("Function takes a Url or a Command, not both")
	case f.URL != "":
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalidParameter("Function Url %q must be an http:// or https:// URL with a host", f.URL)
		}
	case f.Command[0] == "":
		return invalidParameter("Function Command must start with a program")
	}
	if t := f.TimeoutSeconds; t != nil && (*t < 1 || *t > MaxFunctionTimeout) {
		return invalidParameter("Function TimeoutSeconds %d must be between 1 and 900", *t)
	}
	return nil
}

func (c *Config) checkDestination(dest string) error {
	if strings.HasPrefix(dest, "file://") {
		u, err := url.Parse(dest)
		if err != nil || u.Host != "" || !filepath.IsAbs(u.Path) {
			return invalidParameter("The provided destination %q is not a file:///absolute/path URL", dest)
		}
		return nil
	}
	if _, _, _, ok := ParseStreamARN(dest); !ok {
		return invalidParameter("The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination=%s)) is invalid: a destination is a Kinesis stream ARN or a file:///absolute/path", dest)
	}
	if dest == c.EventSourceArn {
		return invalidParameter("The on-failure destination %s is the event source itself", dest)
	}
	return nil
}

// settings are a normalized Config's values, unboxed.
type settings struct {
	batchSize   int
	window      time.Duration
	parallel    int
	maxRetries  int           // -1: infinite
	maxAge      time.Duration // 0: infinite
	bisect      bool
	partial     bool
	start       string
	startTime   time.Time
	timeout     time.Duration
	destination string
}

func (c *Config) settings() settings {
	s := settings{
		batchSize:  *c.BatchSize,
		window:     time.Duration(*c.MaximumBatchingWindowInSeconds) * time.Second,
		parallel:   *c.ParallelizationFactor,
		maxRetries: *c.MaximumRetryAttempts,
		bisect:     c.BisectBatchOnFunctionError,
		partial:    len(c.FunctionResponseTypes) == 1,
		start:      c.StartingPosition,
		timeout:    time.Duration(*c.Function.TimeoutSeconds) * time.Second,
	}
	if a := *c.MaximumRecordAgeInSeconds; a > 0 {
		s.maxAge = time.Duration(a) * time.Second
	}
	if c.StartingPositionTimestamp != nil {
		s.startTime = time.UnixMilli(int64(*c.StartingPositionTimestamp * 1000))
	}
	if d := c.DestinationConfig; d != nil && d.OnFailure != nil {
		s.destination = d.OnFailure.Destination
	}
	return s
}
