package catalog

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/types"
)

// Kinesis is Flink's Kinesis connector: any Kinesis Data Streams endpoint
// through the AWS SDK (connectors/kinesis), with Flink's option names:
//
//   - 'stream' (required): the stream's name, or its ARN.
//   - 'aws.region', 'aws.endpoint': one of them at least, as Flink; the
//     endpoint points elsewhere than the region's service (a local
//     server, say).
//   - 'aws.credentials.provider': AUTO (the default: the SDK's chain of
//     environment, shared files and roles), BASIC with
//     'aws.credentials.basic.accesskeyid' and
//     'aws.credentials.basic.secretkey', ENV_VAR (AWS_ACCESS_KEY_ID,
//     AWS_SECRET_ACCESS_KEY) or PROFILE ('aws.credentials.profile.name',
//     'aws.credentials.profile.path'). SYS_PROP, ASSUME_ROLE and
//     WEB_IDENTITY_TOKEN are refused by name.
//   - 'format' or 'value.format' (one of them, required), with the
//     format's options (package sql/format).
//   - 'scan.stream.initpos': LATEST (the default), TRIM_HORIZON or
//     AT_TIMESTAMP with 'scan.stream.initpos-timestamp'.
//   - 'scan.shard.getrecords.maxrecordcount' (10000),
//     'scan.shard.getrecords.intervalmillis' (200),
//     'scan.shard.discovery.intervalmillis' (10000).
//   - 'scan.bounded' (Sluice's): 'true' reads each shard until it is
//     closed (then its children) or caught up, then finishes.
//   - 'sink.partitioner': 'random' (the default: a key of its own per
//     record) or 'fixed' (the sink subtask's index as the key, so each
//     subtask writes one shard); PARTITIONED BY (cols) makes the key of
//     the columns' values joined with 'sink.partitioner-field-delimiter'
//     (default '|').
//   - 'sink.batch.max-size' (500 records a call),
//     'sink.flush-buffer.timeout' (5000 ms), 'sink.fail-on-error' (false:
//     refused records are sent again).
//   - 'error.path': where records that do not decode go.
//   - 'scan.kpl.deaggregate' and 'sink.kpl.aggregate' (Sluice's): as for
//     the shardlog table (KPL aggregates read as their user records by
//     default; written rows aggregated per shard on request).
//
// Metadata columns (read only): 'timestamp' TIMESTAMP_LTZ(3) (the
// approximate arrival time), 'shard-id', 'sequence-number' and
// 'partition-key' (STRING).
type Kinesis struct{}

// Name implements Factory.
func (Kinesis) Name() string { return "kinesis" }

var kinesisOptions = []string{"stream", "aws.region", "aws.endpoint", "aws.credentials.provider",
	"aws.credentials.basic.accesskeyid", "aws.credentials.basic.secretkey",
	"aws.credentials.profile.name", "aws.credentials.profile.path", "format", "value.format",
	"scan.stream.initpos", "scan.stream.initpos-timestamp", "scan.bounded",
	"scan.shard.getrecords.maxrecordcount", "scan.shard.getrecords.intervalmillis", "scan.shard.discovery.intervalmillis",
	"sink.partitioner", "sink.partitioner-field-delimiter", "sink.batch.max-size", "sink.flush-buffer.timeout", "sink.fail-on-error", "error.path",
	"scan.kpl.deaggregate", "sink.kpl.aggregate"}

// Options implements Factory.
func (Kinesis) Options() []OptionSpec {
	specs := []OptionSpec{{Key: "stream", Required: true}}
	for _, k := range kinesisOptions[1:] {
		specs = append(specs, OptionSpec{Key: k})
	}
	for _, k := range format.Keys("") {
		specs = append(specs, OptionSpec{Key: k})
	}
	for _, k := range format.Keys("value.") {
		specs = append(specs, OptionSpec{Key: k})
	}
	return specs
}

// ReadableMetadata implements MetadataReader.
func (Kinesis) ReadableMetadata() map[string]types.Type { return ShardLog{}.ReadableMetadata() }

// TakesPartitionedBy implements Partitioned.
func (Kinesis) TakesPartitionedBy() bool { return true }

// awsRegion is the shape of an AWS region name (us-east-1, eu-central-2,
// us-gov-west-1, cn-north-1).
var awsRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// Check implements Factory.
func (k Kinesis) Check(v *Validator) error {
	t := v.Table
	if err := checkRecordFormat(v, k.Name()); err != nil {
		return err
	}
	if st := t.Options["stream"]; strings.HasPrefix(st, "arn:") && !kinesisStreamARN.MatchString(st) {
		return v.Errorf("stream", "option 'stream': '%s' is not a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)", st)
	} else if !strings.HasPrefix(st, "arn:") && !kinesisStreamName.MatchString(st) {
		return v.Errorf("stream", "option 'stream': '%s' is not a stream name: 1 to 128 characters of a-z, A-Z, 0-9, '_', '-' and '.'", st)
	}
	region, hasRegion := t.Options["aws.region"]
	endpoint, hasEndpoint := t.Options["aws.endpoint"]
	switch {
	case !hasRegion && !hasEndpoint:
		return diag.New(v.src, t.Span, "AWS region ('aws.region') and/or AWS endpoint ('aws.endpoint') must be set for connector 'kinesis'")
	case hasRegion && !awsRegion.MatchString(region):
		return v.Errorf("aws.region", "Invalid AWS region '%s' in 'aws.region' (a region looks like us-east-1)", region)
	}
	if hasEndpoint {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return v.Errorf("aws.endpoint", "option 'aws.endpoint': '%s' is not an http:// or https:// URL", endpoint)
		}
	}
	prov, err := v.OneOf("aws.credentials.provider", "AUTO", "AUTO", "BASIC", "ENV_VAR", "SYS_PROP", "PROFILE", "ASSUME_ROLE", "WEB_IDENTITY_TOKEN")
	if err != nil {
		return err
	}
	_, hasID := t.Options["aws.credentials.basic.accesskeyid"]
	_, hasSecret := t.Options["aws.credentials.basic.secretkey"]
	switch prov {
	case "AUTO", "BASIC", "ENV_VAR", "PROFILE":
	default:
		return v.Errorf("aws.credentials.provider", "AWS credential provider type '%s' is not supported yet (AUTO, BASIC, ENV_VAR and PROFILE are)", prov)
	}
	if prov == "BASIC" && (!hasID || !hasSecret) {
		return v.Errorf("aws.credentials.provider", "Please set values for AWS Access Key ID ('aws.credentials.basic.accesskeyid') and Secret Key ('aws.credentials.basic.secretkey') when using the BASIC AWS credential provider type.")
	}
	for _, o := range []struct{ key, provider string }{
		{"aws.credentials.basic.accesskeyid", "BASIC"}, {"aws.credentials.basic.secretkey", "BASIC"},
		{"aws.credentials.profile.name", "PROFILE"}, {"aws.credentials.profile.path", "PROFILE"},
	} {
		if _, set := t.Options[o.key]; set && prov != o.provider {
			return v.Errorf(o.key, "option '%s' applies to 'aws.credentials.provider' = '%s' only", o.key, o.provider)
		}
	}
	if _, err := v.OneOf("scan.bounded", "false", "true", "false"); err != nil {
		return err
	}
	if _, err := v.OneOf("sink.fail-on-error", "false", "true", "false"); err != nil {
		return err
	}
	if err := checkKPL(v); err != nil {
		return err
	}
	if err := checkInitPos(v); err != nil {
		return err
	}
	for _, o := range []struct {
		key      string
		min, max int64
	}{
		{"scan.shard.getrecords.maxrecordcount", 1, 10000},
		{"scan.shard.getrecords.intervalmillis", 0, 1 << 31},
		{"scan.shard.discovery.intervalmillis", 1, 1 << 40},
		{"sink.batch.max-size", 1, 500},
		{"sink.flush-buffer.timeout", 0, 1 << 40},
	} {
		n, err := v.Int(o.key, o.min)
		if err != nil {
			return err
		}
		if n < o.min || n > o.max {
			return v.Errorf(o.key, "option '%s': %d is outside [%d, %d]", o.key, n, o.min, o.max)
		}
	}
	part, err := v.OneOf("sink.partitioner", "random", "random", "fixed")
	if err != nil {
		if _, set := t.Options["sink.partitioner"]; set && strings.Contains(t.Options["sink.partitioner"], ".") {
			return v.Errorf("sink.partitioner", "option 'sink.partitioner': custom partitioner classes ('%s') are not supported; use PARTITIONED BY to key records by columns", t.Options["sink.partitioner"])
		}
		return err
	}
	if _, set := t.Options["sink.partitioner"]; set && len(t.PartitionKeys) > 0 {
		return v.Errorf("sink.partitioner", "option 'sink.partitioner' = '%s' cannot be set on a table with PARTITIONED BY: the partition key is made of the PARTITIONED BY columns", part)
	}
	if d, ok := t.Options["sink.partitioner-field-delimiter"]; ok && d == "" {
		return v.Errorf("sink.partitioner-field-delimiter", "option 'sink.partitioner-field-delimiter' must not be empty")
	}
	return nil
}

// checkInitPos checks 'scan.stream.initpos' and its timestamp.
func checkInitPos(v *Validator) error {
	t := v.Table
	pos, err := v.OneOf("scan.stream.initpos", "LATEST", "LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")
	if err != nil {
		return err
	}
	tsv, hasTS := t.Options["scan.stream.initpos-timestamp"]
	switch {
	case pos == "AT_TIMESTAMP" && !hasTS:
		return v.Errorf("scan.stream.initpos", "Please set value for initial timestamp ('scan.stream.initpos-timestamp') when using AT_TIMESTAMP initial position.")
	case pos != "AT_TIMESTAMP" && hasTS:
		return v.Errorf("scan.stream.initpos-timestamp", "option 'scan.stream.initpos-timestamp' applies to 'scan.stream.initpos' = 'AT_TIMESTAMP' only")
	case hasTS:
		if _, err := ParseInitPosTimestamp(tsv); err != nil {
			return v.Errorf("scan.stream.initpos-timestamp", "option 'scan.stream.initpos-timestamp': '%s': %v", tsv, err)
		}
	}
	return nil
}

// checkRecordFormat checks a record connector's 'format' or
// 'value.format' and the format's options.
func checkRecordFormat(v *Validator, connector string) error {
	t := v.Table
	_, hasF := t.Options["format"]
	_, hasVF := t.Options["value.format"]
	switch {
	case hasF && hasVF:
		return v.Errorf("value.format", "Table '%s' sets both 'format' and 'value.format'; give one", t.Name)
	case !hasF && !hasVF:
		return diag.New(v.src, t.Span, "Missing required option 'format' for connector '%s'", connector)
	}
	key, _, _ := LogFormat(t)
	return v.CheckFormat(key, FormatLayout(t))
}

// kinesisStreamName and kinesisStreamARN are the shapes Kinesis takes.
var (
	kinesisStreamName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	kinesisStreamARN  = regexp.MustCompile(`^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:[0-9]{12}:stream/[a-zA-Z0-9_.-]{1,128}$`)
)
