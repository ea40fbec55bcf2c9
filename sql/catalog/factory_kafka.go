package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Kafka is Flink's 'kafka' connector (connectors/kafka through
// franz-go), with Flink's option names:
//
//   - 'topic' (one or several, separated by ';') or 'topic-pattern' (a
//     regular expression); a sink takes one 'topic'.
//   - 'properties.bootstrap.servers' (required), 'properties.group.id',
//     and the Kafka client properties franz-go has an equivalent of:
//     'properties.client.id', 'properties.isolation.level'
//     (read_committed, the default, or read_uncommitted),
//     'properties.security.protocol' (PLAINTEXT, SSL, SASL_PLAINTEXT,
//     SASL_SSL), 'properties.sasl.mechanism' (PLAIN, SCRAM-SHA-256,
//     SCRAM-SHA-512), 'properties.sasl.jaas.config' (its username and
//     password are read), 'properties.ssl.truststore.type' (PEM) with
//     'properties.ssl.truststore.location' (a PEM file),
//     'properties.ssl.endpoint.identification.algorithm' ('https' or ”),
//     'properties.transaction.timeout.ms', 'properties.compression.type'
//     (none, gzip, snappy, lz4, zstd), 'properties.linger.ms'. Any other
//     'properties.*' key is refused by name.
//   - 'scan.startup.mode': earliest-offset, latest-offset, group-offsets
//     (the default, as Flink's, with a 'properties.group.id'; without one
//     the default is earliest-offset), timestamp ('scan.startup.timestamp-millis')
//     or specific-offsets ('scan.startup.specific-offsets' =
//     'partition:0,offset:42;partition:1,offset:300').
//   - 'scan.bounded.mode': unbounded (the default) or latest-offset.
//   - 'scan.topic-partition-discovery.interval' (default 5 min; 0
//     disables).
//   - 'format' or 'value.format', 'key.format' with 'key.fields',
//     'value.fields-include' (ALL or EXCEPT_KEY), with the formats' options.
//   - 'sink.delivery-guarantee' (at-least-once, the default;
//     exactly-once, which needs 'sink.transactional-id-prefix'; none).
//   - 'error.path': where records that do not decode go.
//
// Metadata columns (read only): 'topic' STRING, 'partition' INT,
// 'offset' BIGINT, 'timestamp' TIMESTAMP_LTZ(3), 'timestamp-type' STRING,
// 'leader-epoch' INT, 'headers' MAP<STRING, BYTES> NOT NULL (a key given
// twice keeps its last value).
type Kafka struct{}

// Name implements Factory.
func (Kafka) Name() string { return "kafka" }

// KafkaProperties are the 'properties.*' keys the Kafka tables take.
var KafkaProperties = []string{"properties.bootstrap.servers", "properties.group.id", "properties.client.id",
	"properties.isolation.level", "properties.security.protocol", "properties.sasl.mechanism",
	"properties.sasl.jaas.config", "properties.ssl.truststore.type", "properties.ssl.truststore.location",
	"properties.ssl.endpoint.identification.algorithm", "properties.transaction.timeout.ms",
	"properties.compression.type", "properties.linger.ms"}

var kafkaOptions = []string{"topic", "topic-pattern", "scan.startup.mode", "scan.startup.timestamp-millis",
	"scan.startup.specific-offsets", "scan.bounded.mode", "scan.topic-partition-discovery.interval",
	"format", "value.format", "key.format", "key.fields", "value.fields-include",
	"sink.delivery-guarantee", "sink.transactional-id-prefix", "error.path"}

func kafkaSpecs(opts []string) []OptionSpec {
	specs := []OptionSpec{{Key: "properties.bootstrap.servers", Required: true}}
	for _, k := range append(slices.Clone(KafkaProperties[1:]), opts...) {
		specs = append(specs, OptionSpec{Key: k})
	}
	for _, p := range []string{"", "key.", "value."} {
		for _, k := range format.Keys(p) {
			specs = append(specs, OptionSpec{Key: k})
		}
	}
	return specs
}

// Options implements Factory.
func (Kafka) Options() []OptionSpec { return kafkaSpecs(kafkaOptions) }

// ReadableMetadata implements MetadataReader.
func (Kafka) ReadableMetadata() map[string]types.Type {
	return map[string]types.Type{
		"topic":          types.StringType().AsNotNull(),
		"partition":      types.IntType().AsNotNull(),
		"offset":         types.BigIntType().AsNotNull(),
		"timestamp":      types.TimestampLTZType(3).AsNotNull(),
		"timestamp-type": types.StringType().AsNotNull(),
		"leader-epoch":   types.IntType(),
		"headers":        types.MapType(types.StringType(), types.BytesType()).AsNotNull(),
	}
}

// Check implements Factory.
func (k Kafka) Check(v *Validator) error {
	t := v.Table
	_, hasTopic := t.Options["topic"]
	pat, hasPattern := t.Options["topic-pattern"]
	switch {
	case hasTopic && hasPattern:
		return v.Errorf("topic-pattern", "Option 'topic' and 'topic-pattern' shouldn't be set together.")
	case !hasTopic && !hasPattern:
		return diag.New(v.src, t.Span, "Either 'topic' or 'topic-pattern' must be set for connector 'kafka'")
	case hasPattern:
		if _, err := regexp.Compile(pat); err != nil {
			return v.Errorf("topic-pattern", "option 'topic-pattern': '%s' is not a regular expression: %v", pat, err)
		}
	}
	if hasTopic {
		for _, tp := range KafkaTopics(t) {
			if !kafkaTopicName.MatchString(tp) {
				return v.Errorf("topic", "option 'topic': '%s' is not a topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-'", tp)
			}
		}
	}
	if err := checkKafkaCommon(v); err != nil {
		return err
	}
	if err := checkKafkaFormats(v, false); err != nil {
		return err
	}
	mode, err := v.OneOf("scan.startup.mode", "group-offsets", "earliest-offset", "latest-offset", "group-offsets", "timestamp", "specific-offsets")
	if err != nil {
		return err
	}
	_, hasGroup := t.Options["properties.group.id"]
	_, modeSet := t.Options["scan.startup.mode"]
	if !hasGroup && !modeSet {
		mode = "earliest-offset" // no group to start from
	}
	if !hasGroup && mode == "group-offsets" {
		return v.Errorf("scan.startup.mode", "'scan.startup.mode' = 'group-offsets' needs 'properties.group.id' (or choose another startup mode)")
	}
	_, hasTS := t.Options["scan.startup.timestamp-millis"]
	_, hasSO := t.Options["scan.startup.specific-offsets"]
	switch {
	case mode == "timestamp" && !hasTS:
		return v.Errorf("scan.startup.mode", "'scan.startup.timestamp-millis' is required in 'timestamp' startup mode but missing.")
	case mode == "specific-offsets" && !hasSO:
		return v.Errorf("scan.startup.mode", "'scan.startup.specific-offsets' is required in 'specific-offsets' startup mode but missing.")
	case mode != "timestamp" && hasTS:
		return v.Errorf("scan.startup.timestamp-millis", "option 'scan.startup.timestamp-millis' applies to 'scan.startup.mode' = 'timestamp' only")
	case mode != "specific-offsets" && hasSO:
		return v.Errorf("scan.startup.specific-offsets", "option 'scan.startup.specific-offsets' applies to 'scan.startup.mode' = 'specific-offsets' only")
	}
	if hasTS {
		if n, err := v.Int("scan.startup.timestamp-millis", 0); err != nil {
			return err
		} else if n < 0 {
			return v.Errorf("scan.startup.timestamp-millis", "option 'scan.startup.timestamp-millis' must not be negative")
		}
	}
	if hasSO {
		if _, err := ParseKafkaSpecificOffsets(t.Options["scan.startup.specific-offsets"]); err != nil {
			return v.Errorf("scan.startup.specific-offsets", "Invalid properties for 'scan.startup.specific-offsets' = '%s': %v", t.Options["scan.startup.specific-offsets"], err)
		}
	}
	bm, ok := t.Options["scan.bounded.mode"]
	switch {
	case !ok, bm == "unbounded", bm == "latest-offset":
	case bm == "group-offsets" || bm == "timestamp" || bm == "specific-offsets":
		return v.Errorf("scan.bounded.mode", "option 'scan.bounded.mode' = '%s' is not supported yet (unbounded and latest-offset are)", bm)
	default:
		return v.Errorf("scan.bounded.mode", "option 'scan.bounded.mode': unsupported value '%s'; supported: unbounded, latest-offset", bm)
	}
	if _, err := v.Duration("scan.topic-partition-discovery.interval", 0); err != nil {
		return err
	}
	return nil
}

var kafkaTopicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// KafkaTopics is the table's 'topic' list.
func KafkaTopics(t *Table) []string {
	var out []string
	for _, s := range strings.Split(t.Options["topic"], ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParseKafkaSpecificOffsets reads 'partition:0,offset:42;partition:1,offset:300'.
func ParseKafkaSpecificOffsets(s string) (map[int32]int64, error) {
	out := map[int32]int64{}
	for _, e := range strings.Split(s, ";") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		p, o, ok := strings.Cut(e, ",")
		pk, pv, ok1 := strings.Cut(strings.TrimSpace(p), ":")
		ok2 := false
		var ok3 bool
		var ov string
		if ok {
			var ok4 string
			ok4, ov, ok3 = strings.Cut(strings.TrimSpace(o), ":")
			ok2 = strings.TrimSpace(ok4) == "offset"
		}
		if !ok || !ok1 || !ok3 || !ok2 || strings.TrimSpace(pk) != "partition" {
			return nil, fmt.Errorf("'%s' is not 'partition:<n>,offset:<n>'", e)
		}
		pn, err := strconv.ParseInt(strings.TrimSpace(pv), 10, 32)
		if err != nil || pn < 0 {
			return nil, fmt.Errorf("partition '%s' is not a partition number", pv)
		}
		on, err := strconv.ParseInt(strings.TrimSpace(ov), 10, 64)
		if err != nil || on < 0 {
			return nil, fmt.Errorf("offset '%s' is not an offset", ov)
		}
		out[int32(pn)] = on
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no offsets")
	}
	return out, nil
}

// KafkaJAAS reads the username and password of a
// 'properties.sasl.jaas.config' as Flink users write it:
// org.apache.kafka.common.security.plain.PlainLoginModule required
// username="u" password="p";
func KafkaJAAS(s string) (user, pass string, err error) {
	m := jaasRe.FindStringSubmatch(s)
	if m == nil {
		return "", "", fmt.Errorf("expected '<LoginModule class> required username=\"...\" password=\"...\";'")
	}
	if !strings.HasSuffix(m[1], "PlainLoginModule") && !strings.HasSuffix(m[1], "ScramLoginModule") {
		return "", "", fmt.Errorf("login module '%s' is not supported (PlainLoginModule and ScramLoginModule are)", m[1])
	}
	for _, kv := range jaasKV.FindAllStringSubmatch(m[2], -1) {
		switch kv[1] {
		case "username":
			user = kv[2]
		case "password":
			pass = kv[2]
		}
	}
	if user == "" {
		return "", "", fmt.Errorf("no username")
	}
	return user, pass, nil
}

var (
	jaasRe = regexp.MustCompile(`^\s*([A-Za-z0-9_.$]+)\s+required\b(.*?);?\s*$`)
	jaasKV = regexp.MustCompile(`([A-Za-z_]+)\s*=\s*"([^"]*)"`)
)

// checkKafkaCommon checks the client properties and the sink's options.
func checkKafkaCommon(v *Validator) error {
	t := v.Table
	for _, b := range strings.Split(t.Options["properties.bootstrap.servers"], ",") {
		h, p, ok := strings.Cut(strings.TrimSpace(b), ":")
		if _, err := strconv.Atoi(p); !ok || h == "" || err != nil {
			return v.Errorf("properties.bootstrap.servers", "Invalid url in bootstrap.servers: %s", strings.TrimSpace(b))
		}
	}
	if _, err := v.OneOf("properties.isolation.level", "read_committed", "read_committed", "read_uncommitted"); err != nil {
		return err
	}
	proto, err := v.OneOf("properties.security.protocol", "PLAINTEXT", "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
	if err != nil {
		return err
	}
	sasl := strings.HasPrefix(proto, "SASL_")
	mech, err := v.OneOf("properties.sasl.mechanism", "GSSAPI", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")
	if err != nil {
		return err
	}
	_, hasMech := t.Options["properties.sasl.mechanism"]
	jaas, hasJAAS := t.Options["properties.sasl.jaas.config"]
	switch {
	case sasl && (mech == "GSSAPI" || mech == "OAUTHBEARER"):
		return v.Errorf("properties.sasl.mechanism", "SASL mechanism '%s' is not supported (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 are); set 'properties.sasl.mechanism'", mech)
	case sasl && !hasJAAS:
		return v.Errorf("properties.security.protocol", "'properties.security.protocol' = '%s' needs 'properties.sasl.jaas.config' with a username and password", proto)
	case !sasl && (hasMech || hasJAAS):
		key := "properties.sasl.mechanism"
		if !hasMech {
			key = "properties.sasl.jaas.config"
		}
		return v.Errorf(key, "option '%s' applies to 'properties.security.protocol' = 'SASL_PLAINTEXT' or 'SASL_SSL' only", key)
	}
	if hasJAAS {
		if _, _, err := KafkaJAAS(jaas); err != nil {
			return v.Errorf("properties.sasl.jaas.config", "option 'properties.sasl.jaas.config': %v", err)
		}
	}
	tlsOn := proto == "SSL" || proto == "SASL_SSL"
	if _, err := v.OneOf("properties.ssl.truststore.type", "PEM", "PEM"); err != nil {
		return err
	}
	for _, k := range []string{"properties.ssl.truststore.type", "properties.ssl.truststore.location", "properties.ssl.endpoint.identification.algorithm"} {
		if _, ok := t.Options[k]; ok && !tlsOn {
			return v.Errorf(k, "option '%s' applies to 'properties.security.protocol' = 'SSL' or 'SASL_SSL' only", k)
		}
	}
	if _, err := v.OneOf("properties.ssl.endpoint.identification.algorithm", "https", "https", ""); err != nil {
		return err
	}
	if n, err := v.Int("properties.transaction.timeout.ms", 1); err != nil {
		return err
	} else if n < 1 || n > 1<<31-1 {
		return v.Errorf("properties.transaction.timeout.ms", "option 'properties.transaction.timeout.ms': %d is outside [1, 2147483647]", n)
	}
	if n, err := v.Int("properties.linger.ms", 0); err != nil {
		return err
	} else if n < 0 {
		return v.Errorf("properties.linger.ms", "option 'properties.linger.ms' must not be negative")
	}
	if _, err := v.OneOf("properties.compression.type", "none", "none", "gzip", "snappy", "lz4", "zstd"); err != nil {
		return err
	}
	g, err := v.OneOf("sink.delivery-guarantee", "at-least-once", "at-least-once", "exactly-once", "none")
	if err != nil {
		return err
	}
	prefix, hasPrefix := t.Options["sink.transactional-id-prefix"]
	if g == "exactly-once" && (!hasPrefix || strings.TrimSpace(prefix) == "") {
		return v.Errorf("sink.delivery-guarantee", "'sink.transactional-id-prefix' must be specified when using DeliveryGuarantee.EXACTLY_ONCE.")
	}
	return nil
}

// KafkaKeyFields are the table's 'key.fields' (or, upsert-kafka, the
// primary key columns).
func KafkaKeyFields(t *Table) []string {
	if t.Factory != nil && t.Factory.Name() == "upsert-kafka" {
		return t.PrimaryKey.Columns
	}
	var out []string
	for _, s := range strings.Split(t.Options["key.fields"], ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// KafkaLayouts are the layouts of a Kafka table's record key (nil
// without a key format) and value, over the physical columns, and the
// physical ordinals of their fields.
func KafkaLayouts(t *Table, keyFields []string) (key, value *row.Layout, keyIdx, valIdx []int) {
	l := FormatLayout(t)
	for _, f := range keyFields {
		for i := range l.Len() {
			if l.Name(i) == f {
				keyIdx = append(keyIdx, i)
			}
		}
	}
	exceptKey := t.Options["value.fields-include"] == "EXCEPT_KEY"
	for i := range l.Len() {
		if !exceptKey || !slices.Contains(keyIdx, i) {
			valIdx = append(valIdx, i)
		}
	}
	if len(keyIdx) > 0 {
		key, _ = l.Project(keyIdx)
	}
	value, _ = l.Project(valIdx)
	return key, value, keyIdx, valIdx
}

// checkKafkaFormats checks the value format (format or value.format), the
// key format and key fields, and value.fields-include.
func checkKafkaFormats(v *Validator, upsert bool) error {
	t := v.Table
	inc, err := v.OneOf("value.fields-include", "ALL", "ALL", "EXCEPT_KEY")
	if err != nil {
		return err
	}
	keyFormat, hasKF := t.Options["key.format"]
	_, hasKeyFields := t.Options["key.fields"]
	if !upsert {
		switch {
		case hasKF && !hasKeyFields:
			return v.Errorf("key.format", "A key format 'key.format' requires the declaration of one or more of key fields using 'key.fields'.")
		case hasKeyFields && !hasKF:
			return v.Errorf("key.fields", "The option 'key.fields' can only be declared if a key format is defined using 'key.format'.")
		}
	}
	keyFields := KafkaKeyFields(t)
	phys := physicalNames(t)
	for _, f := range keyFields {
		if !slices.Contains(phys, f) || slices.ContainsFunc(t.Columns, func(c Column) bool { return c.Name == f && c.Metadata != "" }) {
			return v.Errorf("key.fields", "Could not find the field '%s' in the table schema for usage in the key format. A key field must be a regular, physical column. The following columns can be selected in the 'key.fields' option: %s", f, strings.Join(physNonMeta(t), ", "))
		}
	}
	if inc == "EXCEPT_KEY" && len(keyFields) == 0 {
		return v.Errorf("value.fields-include", "A key prefix is not allowed when option 'value.fields-include' is set to 'EXCEPT_KEY' without key fields: set 'key.fields'")
	}
	keyL, valL, _, _ := KafkaLayouts(t, keyFields)
	if hasKF {
		if err := v.CheckFormat("key.format", keyL); err != nil {
			return err
		}
		for k := range t.Options {
			if strings.HasPrefix(k, "key.") && k != "key.format" && k != "key.fields" && !strings.HasPrefix(k, "key."+keyFormat+".") {
				return v.Errorf(k, "option '%s' applies to another key format than '%s'", k, keyFormat)
			}
		}
	}
	_, hasF := t.Options["format"]
	_, hasVF := t.Options["value.format"]
	switch {
	case hasF && hasVF:
		return v.Errorf("value.format", "Table '%s' sets both 'format' and 'value.format'; give one", t.Name)
	case !hasF && !hasVF:
		return diag.New(v.src, t.Span, "Missing required option 'format' or 'value.format' for connector '%s'", t.Factory.Name())
	}
	key, _, _ := LogFormat(t)
	return v.CheckFormat(key, valL)
}

func physNonMeta(t *Table) []string {
	var ns []string
	for _, c := range t.Columns {
		if c.Expr == nil && c.Metadata == "" {
			ns = append(ns, c.Name)
		}
	}
	return ns
}

// UpsertKafka is Flink's 'upsert-kafka' connector: a table with a
// PRIMARY KEY, its records keyed by it in 'key.format', the row in
// 'value.format'. As a sink, +I and +U rows are written as values, -D rows
// as tombstones (a record of the key with a null value), -U rows not at
// all. As a source, the topic is read from its earliest offsets as a
// changelog: the last value per key, a tombstone a delete. It takes the
// options of 'kafka' except the startup and key-fields ones.
type UpsertKafka struct{}

// Name implements Factory.
func (UpsertKafka) Name() string { return "upsert-kafka" }

var upsertKafkaOptions = []string{"topic", "key.format", "value.format", "value.fields-include", "scan.bounded.mode",
	"sink.delivery-guarantee", "sink.transactional-id-prefix", "error.path"}

// Options implements Factory.
func (UpsertKafka) Options() []OptionSpec {
	specs := kafkaSpecs(upsertKafkaOptions)
	for i := range specs {
		if specs[i].Key == "topic" || specs[i].Key == "key.format" || specs[i].Key == "value.format" {
			specs[i].Required = true
		}
	}
	return specs
}

// AcceptsUpdates implements UpdatingSink.
func (UpsertKafka) AcceptsUpdates() bool { return true }

// Check implements Factory.
func (UpsertKafka) Check(v *Validator) error {
	t := v.Table
	if t.PrimaryKey == nil {
		return diag.New(v.src, t.Span, "'upsert-kafka' tables require to define a PRIMARY KEY constraint. The PRIMARY KEY specifies which columns should be read from or write to the Kafka message key. The PRIMARY KEY also defines records in the 'upsert-kafka' table should update or delete on which keys.")
	}
	for _, c := range t.Columns {
		if c.Expr != nil || c.Metadata != "" {
			return diag.New(v.src, c.Span, "'upsert-kafka' tables take physical columns only yet: column '%s' is computed or metadata", c.Name)
		}
	}
	if t.Watermark != nil {
		return diag.New(v.src, t.Watermark.Span, "'upsert-kafka' tables do not take a WATERMARK yet")
	}
	if len(KafkaTopics(t)) != 1 {
		return v.Errorf("topic", "'upsert-kafka' tables take one topic in 'topic'")
	}
	if err := checkKafkaCommon(v); err != nil {
		return err
	}
	if bm, ok := t.Options["scan.bounded.mode"]; ok && bm != "unbounded" && bm != "latest-offset" {
		return v.Errorf("scan.bounded.mode", "option 'scan.bounded.mode': unsupported value '%s'; supported: unbounded, latest-offset", bm)
	}
	return checkKafkaFormats(v, true)
}
