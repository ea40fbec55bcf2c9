package firehose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicehq/sluice/connectors/firehose/prefix"
	"github.com/sluicehq/sluice/connectors/parquet"
	"github.com/sluicehq/sluice/connectors/s3"
)

// Config describes one delivery stream. It is plain data (JSON-serialisable
// except Format.Parquet.Schema, an Arrow schema: Format.Parquet.Columns is
// its serialisable form; see ParseConfig) so that
// checkpoints can record it; run-time dependencies that are not data (a Go
// transform function, a clock, fakes) go in Deps.
type Config struct {
	// Name is the delivery stream name, used in object names and in the
	// Lambda event's deliveryStreamArn. Required.
	Name string `json:"name"`
	// Version is the stream's configuration version in object names
	// (Firehose starts at 1 and adds 1 per configuration change).
	// Default 1.
	Version int `json:"version,omitempty"`
	// Region is reported in Lambda events (default "us-east-1").
	Region string `json:"region,omitempty"`

	Buffering BufferingHints `json:"buffering"`

	// Prefix and ErrorOutputPrefix are in Firehose's expression language
	// (package prefix documents the rules applied).
	Prefix            string `json:"prefix,omitempty"`
	ErrorOutputPrefix string `json:"error_output_prefix,omitempty"`
	// CustomTimeZone is the IANA zone in which prefixes and object names
	// are evaluated (default UTC).
	CustomTimeZone string `json:"custom_time_zone,omitempty"`
	// FileExtension overrides the extension derived from the format and
	// compression (".gz", ".zip", ".snappy", ".hsnappy", ".parquet"). It
	// must start with a '.'.
	FileExtension string `json:"file_extension,omitempty"`

	Format Format `json:"format"`
	// Compression of non-Parquet output: UNCOMPRESSED (default), GZIP,
	// ZIP, Snappy or HADOOP_SNAPPY. Must be UNCOMPRESSED with Parquet,
	// which compresses inside the file (Format.Parquet.Compression).
	Compression string `json:"compression,omitempty"`

	Processing   *Processing   `json:"processing,omitempty"`
	Partitioning *Partitioning `json:"partitioning,omitempty"`

	// Exactly one destination.
	S3           *s3.Config          `json:"s3,omitempty"`
	Directory    *DirectoryConfig    `json:"directory,omitempty"`
	HTTPEndpoint *HTTPEndpointConfig `json:"http_endpoint,omitempty"`

	Backup *Backup `json:"backup,omitempty"`

	// RetryDurationInSeconds is how long a failing delivery is retried
	// before its records go to the backup (0–7200, default 300). Zero
	// means one attempt.
	RetryDurationInSeconds *int `json:"retry_duration_in_seconds,omitempty"`
}

// BufferingHints are Firehose's: whichever is reached first delivers.
type BufferingHints struct {
	// SizeInMBs (MiB of record data before compression), 1–128, default 5
	// (64 when dynamic partitioning is on, as Firehose requires at least
	// 64 there; smaller values are accepted and documented as a Sluice
	// extension).
	SizeInMBs int `json:"size_in_mbs,omitempty"`
	// IntervalInSeconds, 0–900, default 300 when nil. Zero delivers at
	// the end of every Put call (Firehose's "zero buffering").
	IntervalInSeconds *int `json:"interval_in_seconds,omitempty"`
}

// Seconds returns a pointer to n, for the optional second fields.
func Seconds(n int) *int { return &n }

// Output formats.
const (
	// FormatRaw concatenates records as they are (Firehose's default);
	// AppendNewline adds "\n" after every record, as Firehose's
	// AppendDelimiterToRecord processor does.
	FormatRaw = "raw"
	// FormatJSONLines writes one record per line: trailing CR/LF are
	// trimmed and exactly one "\n" is appended, so records that already
	// end in a newline are not doubled.
	FormatJSONLines = "jsonl"
	// FormatParquet converts JSON records to Parquet (package parquet).
	FormatParquet = "parquet"
)

// Format selects the output format.
type Format struct {
	Type          string         `json:"type,omitempty"` // default raw
	AppendNewline bool           `json:"append_newline,omitempty"`
	Parquet       *ParquetFormat `json:"parquet,omitempty"`
}

// ParquetFormat configures record format conversion.
type ParquetFormat struct {
	// Schema is the table's Arrow schema. When nil, Columns declares it
	// (the form configuration files use).
	Schema  *arrow.Schema    `json:"-"`
	Columns []parquet.Column `json:"columns,omitempty"`
	Options parquet.Options  `json:"options"`
	// Table names the schema's table in format-conversion-failed
	// documents (dataCatalogTable.tableName).
	Table string `json:"table,omitempty"`
}

// Compression formats, spelled as Firehose spells them.
const (
	Uncompressed = "UNCOMPRESSED"
	GZIP         = "GZIP"
	ZIP          = "ZIP"
	Snappy       = "Snappy"
	HadoopSnappy = "HADOOP_SNAPPY"
)

// Processing configures the Lambda-contract transform.
type Processing struct {
	// LambdaURL is an HTTP endpoint that receives the Lambda event as a
	// JSON POST body and answers with the Lambda response. When empty,
	// Deps.Transform is used.
	LambdaURL string `json:"lambda_url,omitempty"`
	// LambdaArn is reported in processing-failed documents.
	LambdaArn string `json:"lambda_arn,omitempty"`
	// NumberOfRetries of a failed invocation (0–300, default 3).
	NumberOfRetries *int `json:"number_of_retries,omitempty"`
	// BufferSizeInMBs bounds one invocation's input (default 1, at most
	// 3); records of one Put call are sent in as few invocations as fit.
	BufferSizeInMBs float64 `json:"buffer_size_in_mbs,omitempty"`
}

// Partitioning configures dynamic partitioning.
type Partitioning struct {
	// Keys maps a partition key name (used as
	// !{partitionKeyFromQuery:name}) to an expr-lang expression evaluated
	// over the record parsed as a JSON object: its top-level fields are
	// variables (customer_id, device.type, ...). The result must be a
	// string, number or bool.
	Keys map[string]string `json:"keys,omitempty"`
	// MaxActivePartitions bounds the buffers open at once (default 500,
	// Firehose's quota). Records for a new partition beyond it go to the
	// error output (partitioning-failed).
	MaxActivePartitions int `json:"max_active_partitions,omitempty"`
}

// Backup modes.
const (
	BackupDisabled = "Disabled"
	// BackupAllData writes every source record, before any transform, to
	// the backup destination under Backup.Prefix.
	BackupAllData = "AllData"
	// BackupFailedDataOnly writes only records that could not be
	// delivered (within the retry duration) to the backup destination's
	// error prefix.
	BackupFailedDataOnly = "FailedDataOnly"
)

// Backup configures the second destination.
type Backup struct {
	Mode              string           `json:"mode,omitempty"` // default FailedDataOnly when a destination is set
	S3                *s3.Config       `json:"s3,omitempty"`
	Directory         *DirectoryConfig `json:"directory,omitempty"`
	Prefix            string           `json:"prefix,omitempty"`
	ErrorOutputPrefix string           `json:"error_output_prefix,omitempty"`
	// Compression of AllData backup objects (default UNCOMPRESSED).
	Compression string `json:"compression,omitempty"`
}

// DirectoryConfig is a local-directory destination.
type DirectoryConfig struct {
	Path string `json:"path"`
}

// HTTPEndpointConfig is Firehose's HTTP endpoint destination.
type HTTPEndpointConfig struct {
	URL string `json:"url"`
	// AccessKey is sent verbatim in X-Amz-Firehose-Access-Key.
	AccessKey string `json:"access_key,omitempty"`
	// ContentEncoding is NONE (default) or GZIP.
	ContentEncoding string `json:"content_encoding,omitempty"`
	// CommonAttributes are sent in X-Amz-Firehose-Common-Attributes.
	CommonAttributes map[string]string `json:"common_attributes,omitempty"`
	// TimeoutSeconds per request (default 180, Firehose's limit).
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

// Defaults.
const (
	DefaultSizeInMBs            = 5
	DefaultPartitionedSizeInMBs = 64
	DefaultIntervalInSeconds    = 300
	DefaultRetryDurationSeconds = 300
	DefaultLambdaRetries        = 3
	DefaultMaxActivePartitions  = 500
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("firehose: invalid configuration")

func cfgErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// EnsureDefaults fills the zero fields with their documented defaults.
func (c *Config) EnsureDefaults() {
	if c.Version == 0 {
		c.Version = 1
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Buffering.SizeInMBs == 0 {
		c.Buffering.SizeInMBs = DefaultSizeInMBs
		if c.Partitioning != nil {
			c.Buffering.SizeInMBs = DefaultPartitionedSizeInMBs
		}
	}
	if c.Buffering.IntervalInSeconds == nil {
		c.Buffering.IntervalInSeconds = Seconds(DefaultIntervalInSeconds)
	}
	if c.Format.Type == "" {
		c.Format.Type = FormatRaw
	}
	if c.Compression == "" {
		c.Compression = Uncompressed
	}
	if c.RetryDurationInSeconds == nil {
		c.RetryDurationInSeconds = Seconds(DefaultRetryDurationSeconds)
	}
	if p := c.Processing; p != nil {
		if p.NumberOfRetries == nil {
			p.NumberOfRetries = Seconds(DefaultLambdaRetries)
		}
		if p.BufferSizeInMBs == 0 {
			p.BufferSizeInMBs = 1
		}
		if p.LambdaArn == "" {
			p.LambdaArn = "arn:aws:lambda:" + c.Region + ":000000000000:function:" + c.Name + "-transform"
		}
	}
	if p := c.Partitioning; p != nil && p.MaxActivePartitions == 0 {
		p.MaxActivePartitions = DefaultMaxActivePartitions
	}
	if b := c.Backup; b != nil {
		if b.Mode == "" {
			b.Mode = BackupFailedDataOnly
		}
		if b.Compression == "" {
			b.Compression = Uncompressed
		}
	}
}

// Validate checks c (call EnsureDefaults first) and returns the compiled
// prefixes.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

type compiled struct {
	prefixes       prefix.Pair
	backupPrefixes prefix.Pair
	loc            *time.Location
	ext            string
	schema         *parquet.Schema
	keys           *keyEvaluator
}

func (c *Config) compile() (*compiled, error) {
	out := &compiled{}
	if c.Name == "" {
		return nil, cfgErr("Name is required")
	}
	if strings.ContainsAny(c.Name, "/\\") {
		return nil, cfgErr("Name %q must not contain '/'", c.Name)
	}
	if c.Version < 1 {
		return nil, cfgErr("Version %d must be at least 1", c.Version)
	}
	if s := c.Buffering.SizeInMBs; s < 1 || s > 128 {
		return nil, cfgErr("Buffering.SizeInMBs %d is outside 1–128", s)
	}
	if iv := c.Buffering.IntervalInSeconds; iv == nil || *iv < 0 || *iv > 900 {
		return nil, cfgErr("Buffering.IntervalInSeconds must be within 0–900")
	}
	if r := c.RetryDurationInSeconds; r == nil || *r < 0 || *r > 7200 {
		return nil, cfgErr("RetryDurationInSeconds must be within 0–7200")
	}
	out.loc = time.UTC
	if c.CustomTimeZone != "" {
		loc, err := time.LoadLocation(c.CustomTimeZone)
		if err != nil {
			return nil, cfgErr("CustomTimeZone %q: %v", c.CustomTimeZone, err)
		}
		out.loc = loc
	}
	if c.FileExtension != "" && (!strings.HasPrefix(c.FileExtension, ".") || strings.ContainsAny(c.FileExtension, "/\\ ")) {
		return nil, cfgErr("FileExtension %q must start with '.' and contain no '/' or spaces", c.FileExtension)
	}
	ndest := 0
	for _, set := range []bool{c.S3 != nil, c.Directory != nil, c.HTTPEndpoint != nil} {
		if set {
			ndest++
		}
	}
	if ndest != 1 {
		return nil, cfgErr("exactly one of S3, Directory and HTTPEndpoint is required (have %d)", ndest)
	}
	if c.S3 != nil {
		if err := c.S3.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if c.Directory != nil && c.Directory.Path == "" {
		return nil, cfgErr("Directory.Path is required")
	}
	if h := c.HTTPEndpoint; h != nil {
		u, err := url.Parse(h.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, cfgErr("HTTPEndpoint.URL %q must be an http(s) URL", h.URL)
		}
		switch strings.ToUpper(h.ContentEncoding) {
		case "", "NONE", "GZIP":
		default:
			return nil, cfgErr("HTTPEndpoint.ContentEncoding %q must be NONE or GZIP", h.ContentEncoding)
		}
		if len(h.AccessKey) > 4096 {
			return nil, cfgErr("HTTPEndpoint.AccessKey is longer than 4096 bytes")
		}
		if c.Backup == nil || (c.Backup.S3 == nil && c.Backup.Directory == nil) {
			return nil, cfgErr("an HTTP endpoint destination requires a Backup destination (Firehose requires an S3 backup for failed data)")
		}
		if c.Format.Type == FormatParquet || c.Compression != Uncompressed {
			return nil, cfgErr("an HTTP endpoint destination takes records as they are: no Parquet conversion or Compression (use ContentEncoding)")
		}
		if c.Partitioning != nil {
			return nil, cfgErr("dynamic partitioning needs an object destination")
		}
	}
	switch c.Format.Type {
	case FormatRaw, FormatJSONLines:
		if c.Format.Parquet != nil {
			return nil, cfgErr("Format.Parquet is set but Format.Type is %q", c.Format.Type)
		}
	case FormatParquet:
		pf := c.Format.Parquet
		if pf == nil || (pf.Schema == nil && len(pf.Columns) == 0) {
			return nil, cfgErr("Parquet conversion needs Format.Parquet.Schema or Columns")
		}
		as := pf.Schema
		if as == nil {
			var err error
			if as, err = parquet.SchemaFromColumns(pf.Columns); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrConfig, err)
			}
		}
		if c.Compression != Uncompressed {
			return nil, cfgErr("Compression must be UNCOMPRESSED with Parquet conversion (set Format.Parquet.Options.Compression)")
		}
		if err := c.Format.Parquet.Options.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		s, err := parquet.NewSchema(as)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		out.schema = s
	default:
		return nil, cfgErr("Format.Type %q must be raw, jsonl or parquet", c.Format.Type)
	}
	if !validCompression(c.Compression) {
		return nil, cfgErr("Compression %q must be UNCOMPRESSED, GZIP, ZIP, Snappy or HADOOP_SNAPPY", c.Compression)
	}
	out.ext = c.FileExtension
	if out.ext == "" {
		out.ext = extension(c.Format.Type, c.Compression)
	}
	if p := c.Processing; p != nil {
		if p.LambdaURL != "" {
			if u, err := url.Parse(p.LambdaURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return nil, cfgErr("Processing.LambdaURL %q must be an http(s) URL", p.LambdaURL)
			}
		}
		if n := p.NumberOfRetries; n == nil || *n < 0 || *n > 300 {
			return nil, cfgErr("Processing.NumberOfRetries must be within 0–300")
		}
		if p.BufferSizeInMBs < 0 || p.BufferSizeInMBs > 3 {
			return nil, cfgErr("Processing.BufferSizeInMBs %v is outside 0–3", p.BufferSizeInMBs)
		}
	}
	var known func(string) bool
	if p := c.Partitioning; p != nil {
		if len(p.Keys) == 0 {
			return nil, cfgErr("Partitioning needs at least one key")
		}
		if p.MaxActivePartitions < 1 {
			return nil, cfgErr("Partitioning.MaxActivePartitions must be positive")
		}
		ke, err := compileKeys(p.Keys)
		if err != nil {
			return nil, err
		}
		out.keys = ke
		known = func(k string) bool { _, ok := p.Keys[k]; return ok }
	} else {
		known = func(string) bool { return false }
	}
	pair, err := prefix.Compile(c.Prefix, c.ErrorOutputPrefix, known)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.Partitioning != nil && c.ErrorOutputPrefix == "" {
		return nil, cfgErr("dynamic partitioning requires an ErrorOutputPrefix")
	}
	if c.Partitioning != nil && !pair.Prefix.HasPartitionKeys() {
		return nil, cfgErr("dynamic partitioning is on but Prefix %q uses no partition key", c.Prefix)
	}
	if c.Partitioning == nil && len(pair.Prefix.LambdaKeys()) == 0 && pair.Prefix.HasPartitionKeys() {
		return nil, cfgErr("Prefix uses partitionKeyFromQuery but Partitioning is not configured")
	}
	out.prefixes = pair
	if b := c.Backup; b != nil {
		switch b.Mode {
		case BackupAllData, BackupFailedDataOnly:
		case BackupDisabled:
		default:
			return nil, cfgErr("Backup.Mode %q must be Disabled, AllData or FailedDataOnly", b.Mode)
		}
		if b.Mode != BackupDisabled && (b.S3 == nil) == (b.Directory == nil) {
			return nil, cfgErr("Backup needs exactly one of S3 and Directory")
		}
		if b.S3 != nil {
			if err := b.S3.Validate(); err != nil {
				return nil, fmt.Errorf("%w: backup: %w", ErrConfig, err)
			}
		}
		if !validCompression(b.Compression) {
			return nil, cfgErr("Backup.Compression %q is not valid", b.Compression)
		}
		bp, err := prefix.Compile(b.Prefix, b.ErrorOutputPrefix, func(string) bool { return false })
		if err != nil {
			return nil, fmt.Errorf("%w: backup: %w", ErrConfig, err)
		}
		if bp.Prefix.HasPartitionKeys() {
			return nil, cfgErr("Backup.Prefix cannot use partition keys")
		}
		out.backupPrefixes = bp
	}
	return out, nil
}

func validCompression(s string) bool {
	switch s {
	case Uncompressed, GZIP, ZIP, Snappy, HadoopSnappy:
		return true
	}
	return false
}

func extension(format, compression string) string {
	if format == FormatParquet {
		return ".parquet"
	}
	switch compression {
	case GZIP:
		return ".gz"
	case ZIP:
		return ".zip"
	case Snappy:
		return ".snappy"
	case HadoopSnappy:
		return ".hsnappy"
	}
	return ""
}

// ParseConfig reads a Config from its JSON form, the form of `sluice
// firehose run --config` files: the field names are the json tags of
// Config and the structs it holds, unknown fields are refused, and a
// Parquet schema is declared as format.parquet.columns (see
// parquet.Column). The result is validated (with defaults applied to a
// copy) and returned as written. An example:
//
//	{
//	  "name": "orders",
//	  "buffering": {"size_in_mbs": 64, "interval_in_seconds": 60},
//	  "prefix": "orders/customer=!{partitionKeyFromQuery:customer}/dt=!{timestamp:yyyy-MM-dd}/",
//	  "error_output_prefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
//	  "partitioning": {"keys": {"customer": "customer_id"}},
//	  "format": {
//	    "type": "parquet",
//	    "parquet": {
//	      "columns": [
//	        {"name": "order_id", "type": "bigint"},
//	        {"name": "customer_id", "type": "string"},
//	        {"name": "amount", "type": "double", "nullable": true},
//	        {"name": "at", "type": "timestamp"}
//	      ],
//	      "options": {"compression": "SNAPPY"}
//	    }
//	  },
//	  "s3": {"bucket": "lake", "endpoint": "http://127.0.0.1:9000", "use_path_style": true}
//	}
//
// A transform in a file is an HTTP endpoint (processing.lambda_url); S3
// credentials come from the file or, when access_key_id is absent, from
// the usual AWS chain (environment, shared config, instance role).
func ParseConfig(data []byte) (Config, error) {
	parse := func() (Config, error) {
		var c Config
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return Config{}, jsonDecodeError(data, dec, err)
		}
		if dec.More() {
			return Config{}, cfgErr("trailing data after the JSON object")
		}
		return c, nil
	}
	c, err := parse()
	if err != nil {
		return Config{}, err
	}
	if c.Format.Type == "parquet" && (c.Format.Parquet == nil || len(c.Format.Parquet.Columns) == 0) {
		// Format.Parquet.Schema, the Go alternative, cannot be written in JSON.
		return Config{}, cfgErr("format.parquet.columns is required when format.type is parquet")
	}
	check, _ := parse() // a deep copy, for defaults
	check.EnsureDefaults()
	if err := check.Validate(); err != nil {
		return Config{}, jsonTerms(err)
	}
	if p := check.Processing; p != nil && p.LambdaURL == "" {
		return Config{}, cfgErr("processing in a configuration file needs a lambda_url")
	}
	return c, nil
}
