package firehoseapi

import (
	"context"
	"fmt"
	"sort"
	"strconv"
)

// operation decodes, checks and answers one request of the operation op.
type operation func(s *Server, ctx context.Context, op string, body []byte) (any, error)

// serve is the one path of every operation: decode the input, check it
// against its rules, authorize the principal, then call.
func serve[In any](check func(*In, *violations), call func(*Server, context.Context, *In) (any, error)) operation {
	return func(s *Server, ctx context.Context, op string, body []byte) (any, error) {
		in := new(In)
		if err := decode(body, in); err != nil {
			return nil, err
		}
		var vs violations
		check(in, &vs)
		if err := vs.err(); err != nil {
			return nil, err
		}
		name := ""
		if n, ok := any(in).(interface{ streamName() *string }); ok {
			name = deref(n.streamName())
		}
		if err := s.authorize(ctx, op, name); err != nil {
			return nil, err
		}
		return call(s, ctx, in)
	}
}

// operations is the table of the operations served.
var operations = map[string]operation{
	"CreateDeliveryStream":      serve(checkCreate, (*Server).create),
	"DescribeDeliveryStream":    serve(checkDescribe, (*Server).describe),
	"ListDeliveryStreams":       serve(checkList, (*Server).list),
	"DeleteDeliveryStream":      serve(checkDelete, (*Server).delete),
	"PutRecord":                 serve(checkPutRecord, (*Server).putRecord),
	"PutRecordBatch":            serve(checkPutBatch, (*Server).putBatch),
	"UpdateDestination":         serve(checkUpdate, (*Server).update),
	"TagDeliveryStream":         serve(checkTag, (*Server).tag),
	"UntagDeliveryStream":       serve(checkUntag, (*Server).untag),
	"ListTagsForDeliveryStream": serve(checkListTags, (*Server).listTags),
}

func (s *Server) notFound(name string) error {
	return &apiError{code: codeNotFound, msg: fmt.Sprintf("Firehose %s under account %s not found.", name, s.opts.AccountID)}
}

func (s *Server) arn(name string) string {
	return "arn:aws:firehose:" + s.opts.Region + ":" + s.opts.AccountID + ":deliverystream/" + name
}

func checkTags(path string, tags []Tag, vs *violations, required bool) {
	r := tagListRule
	if required {
		r = r.Need()
	}
	vs.check(path, list(tags), r)
	for i, t := range tags {
		p := path + "." + itoa(i+1) + ".member"
		vs.check(p+".key", str(t.Key), tagKeyRule.Need())
		vs.check(p+".value", str(t.Value), tagValueRule)
	}
}

func checkCreate(in *createInput, vs *violations) {
	vs.check("deliveryStreamName", str(in.DeliveryStreamName), nameRule.Need())
	vs.check("deliveryStreamType", str(in.DeliveryStreamType), streamTypes)
	if c := in.DirectPutSourceConfiguration; c != nil {
		vs.check("directPutSourceConfiguration.throughputHintInMBs", num(c.ThroughputHintInMBs), throughput.Need())
	}
	if c := in.KinesisStreamSourceConfiguration; c != nil {
		vs.check("kinesisStreamSourceConfiguration.kinesisStreamARN", str(c.KinesisStreamARN), streamARNRule.Need())
		vs.check("kinesisStreamSourceConfiguration.roleARN", str(c.RoleARN), roleARNRule.Need())
	}
	if c := in.S3DestinationConfiguration; c != nil {
		vs.checkS3("s3DestinationConfiguration", c, false)
	}
	if c := in.ExtendedS3DestinationConfiguration; c != nil {
		vs.checkExtendedS3("extendedS3DestinationConfiguration", c, false)
	}
	if c := in.HttpEndpointDestinationConfiguration; c != nil {
		vs.checkHTTP("httpEndpointDestinationConfiguration", c, false)
	}
	checkTags("tags", in.Tags, vs, false)
}

func (s *Server) create(ctx context.Context, in *createInput) (any, error) {
	name := *in.DeliveryStreamName
	typ := deref(in.DeliveryStreamType)
	if typ == "" {
		typ = TypeDirectPut
	}
	now := s.opts.Now()
	ds := DeliveryStream{Name: name, ARN: s.arn(name), Type: typ, Status: StatusCreating, Version: 1, Created: now, Updated: now, Tags: in.Tags}
	switch typ {
	case TypeDirectPut:
		if in.KinesisStreamSourceConfiguration != nil {
			return nil, invalid("KinesisSourceStreamConfig is only applicable for KinesisStreamAsSource stream type.")
		}
	case TypeKinesisSource:
		if in.KinesisStreamSourceConfiguration == nil {
			return nil, invalid("KinesisSourceStreamConfig is required for KinesisStreamAsSource stream type.")
		}
		if in.DirectPutSourceConfiguration != nil {
			return nil, invalid("DirectPutSourceConfiguration is only applicable for DirectPut stream type.")
		}
		ds.Source = in.KinesisStreamSourceConfiguration
	default:
		return nil, invalid("Delivery stream type " + typ + " is not supported by this server (DirectPut and KinesisStreamAsSource are).")
	}
	for field, set := range map[string]bool{
		"RedshiftDestinationConfiguration":                   in.RedshiftDestinationConfiguration != nil,
		"ElasticsearchDestinationConfiguration":              in.ElasticsearchDestinationConfiguration != nil,
		"AmazonopensearchserviceDestinationConfiguration":    in.AmazonopensearchserviceDestinationConfiguration != nil,
		"SplunkDestinationConfiguration":                     in.SplunkDestinationConfiguration != nil,
		"AmazonOpenSearchServerlessDestinationConfiguration": in.AmazonOpenSearchServerlessDestinationConfiguration != nil,
		"SnowflakeDestinationConfiguration":                  in.SnowflakeDestinationConfiguration != nil,
		"IcebergDestinationConfiguration":                    in.IcebergDestinationConfiguration != nil,
		"MSKSourceConfiguration":                             in.MSKSourceConfiguration != nil,
		"DatabaseSourceConfiguration":                        in.DatabaseSourceConfiguration != nil,
		"DeliveryStreamEncryptionConfigurationInput":         in.DeliveryStreamEncryptionConfigurationInput != nil,
	} {
		if set {
			return nil, invalid(field + " is not supported by this server (S3, ExtendedS3 and HttpEndpoint destinations are).")
		}
	}
	n := 0
	if c := in.S3DestinationConfiguration; c != nil {
		ds.S3 = &ExtendedS3DestinationConfiguration{S3DestinationConfiguration: *c}
		n++
	}
	if c := in.ExtendedS3DestinationConfiguration; c != nil {
		ds.S3 = c
		n++
	}
	if c := in.HttpEndpointDestinationConfiguration; c != nil {
		ds.HTTP = c
		n++
	}
	if n != 1 {
		return nil, invalid("Exactly one destination configuration is supported for a Firehose stream.")
	}
	if len(in.Tags) > 0 {
		if err := uniqueTagKeys(in.Tags); err != nil {
			return nil, err
		}
	}
	cfg, err := s.deliveryConfig(ds)
	if err != nil {
		return nil, err
	}
	if ds.Source != nil {
		if err := s.opts.Backend.CheckSource(*ds.Source.KinesisStreamARN); err != nil {
			return nil, invalid(err.Error())
		}
	}
	if err := s.reg.update(func(m map[string]DeliveryStream) error {
		if _, ok := m[name]; ok {
			return &apiError{code: codeInUse, msg: fmt.Sprintf("Firehose %s under accountId %s already exists", name, s.opts.AccountID)}
		}
		m[name] = ds
		return nil
	}); err != nil {
		return nil, err
	}
	// CREATING until the delivery runs.
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.opts.Backend.Start(s.ctx, ds, cfg); err != nil {
			s.logf("firehoseapi: start delivery stream %q: %v", name, err)
			if err := s.reg.update(func(m map[string]DeliveryStream) error {
				if cur, ok := m[name]; ok && cur.Status == StatusCreating {
					cur.Status = StatusCreatingFailed
					m[name] = cur
				}
				return nil
			}); err != nil {
				s.logf("%v", err)
			}
			return
		}
		if err := s.reg.update(func(m map[string]DeliveryStream) error {
			cur, ok := m[name]
			if ok && cur.Status == StatusCreating {
				cur.Status = StatusActive
				m[name] = cur
			}
			return nil
		}); err != nil {
			s.logf("%v", err)
		}
	}()
	return createOutput{DeliveryStreamARN: ds.ARN}, nil
}

func checkDescribe(in *describeInput, vs *violations) {
	vs.check("deliveryStreamName", str(in.DeliveryStreamName), nameRule.Need())
	vs.check("limit", num(in.Limit), rangeRule(1, 10000))
	vs.check("exclusiveStartDestinationId", str(in.ExclusiveStartDestinationId), destIDRule)
}

func (s *Server) describe(ctx context.Context, in *describeInput) (any, error) {
	ds, ok := s.reg.get(*in.DeliveryStreamName)
	if !ok {
		return nil, s.notFound(*in.DeliveryStreamName)
	}
	d := describeStream(ds)
	if in.ExclusiveStartDestinationId != nil && *in.ExclusiveStartDestinationId >= destinationID {
		d.Destinations = []destinationDescription{}
	}
	return describeOutput{DeliveryStreamDescription: d}, nil
}

func checkList(in *listInput, vs *violations) {
	vs.check("limit", num(in.Limit), listLimit)
	vs.check("deliveryStreamType", str(in.DeliveryStreamType), streamTypes)
	vs.check("exclusiveStartDeliveryStreamName", str(in.ExclusiveStartDeliveryStreamName), nameRule)
}

func (s *Server) list(ctx context.Context, in *listInput) (any, error) {
	limit := 10
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	out := listOutput{DeliveryStreamNames: []string{}}
	for _, ds := range s.reg.all() {
		if in.DeliveryStreamType != nil && ds.Type != *in.DeliveryStreamType {
			continue
		}
		if in.ExclusiveStartDeliveryStreamName != nil && ds.Name <= *in.ExclusiveStartDeliveryStreamName {
			continue
		}
		if len(out.DeliveryStreamNames) == limit {
			out.HasMoreDeliveryStreams = true
			break
		}
		out.DeliveryStreamNames = append(out.DeliveryStreamNames, ds.Name)
	}
	return out, nil
}

func checkDelete(in *deleteInput, vs *violations) {
	vs.check("deliveryStreamName", str(in.DeliveryStreamName), nameRule.Need())
}

func (s *Server) delete(ctx context.Context, in *deleteInput) (any, error) {
	name := *in.DeliveryStreamName
	already := false
	if err := s.reg.update(func(m map[string]DeliveryStream) error {
		ds, ok := m[name]
		switch {
		case !ok:
			return s.notFound(name)
		case ds.Status == StatusCreating:
			// As the service: a stream can be deleted when ACTIVE,
			// DELETING or CREATING_FAILED.
			return &apiError{code: codeInUse, msg: fmt.Sprintf("Firehose %s is in CREATING state and cannot be deleted until it is ACTIVE.", name)}
		case ds.Status == StatusDeleting:
			already = true
			return nil
		}
		ds.Status = StatusDeleting
		m[name] = ds
		return nil
	}); err != nil {
		return nil, err
	}
	if already {
		return empty{}, nil
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.finishDelete(s.ctx, name); err != nil {
			s.logf("firehoseapi: delete delivery stream %q: %v", name, err)
		}
	}()
	return empty{}, nil
}

// finishDelete stops and removes a DELETING delivery stream, then forgets it.
func (s *Server) finishDelete(ctx context.Context, name string) error {
	if err := s.opts.Backend.Remove(ctx, name); err != nil {
		return err
	}
	return s.reg.update(func(m map[string]DeliveryStream) error { delete(m, name); return nil })
}

func checkPutRecord(in *putRecordInput, vs *violations) {
	vs.check("deliveryStreamName", str(in.DeliveryStreamName), nameRule.Need())
	if vs.check("record", object(in.Record != nil), rule{Required: true}) {
		vs.check("record.data", blob(in.Record.Data), recordData.Need())
	}
}

// putTarget is the delivery stream records may be put to.
func (s *Server) putTarget(name string) error {
	ds, ok := s.reg.get(name)
	if !ok || ds.Status != StatusActive {
		return s.notFound(name)
	}
	if ds.Type == TypeKinesisSource {
		return invalid(msgNotPermittedOnKinesis)
	}
	return nil
}

func (s *Server) putRecord(ctx context.Context, in *putRecordInput) (any, error) {
	name := *in.DeliveryStreamName
	if err := s.putTarget(name); err != nil {
		return nil, err
	}
	res, err := s.opts.Backend.Put(ctx, name, [][]byte{in.Record.Data})
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		s.count(name, 0, 0, 1)
		return nil, &apiError{code: codeUnavailable, msg: msgServiceUnavailableSlowDown}
	}
	s.count(name, 1, int64(len(in.Record.Data)), 0)
	return putRecordOutput{RecordId: res[0].RecordID}, nil
}

func checkPutBatch(in *putBatchInput, vs *violations) {
	vs.check("deliveryStreamName", str(in.DeliveryStreamName), nameRule.Need())
	vs.check("records", list(in.Records), recordsRule.Need())
	for i, r := range in.Records {
		p := "records." + itoa(i+1) + ".member"
		if r == nil {
			vs.check(p, value{}, rule{Required: true})
			continue
		}
		vs.check(p+".data", blob(r.Data), recordData.Need())
	}
}

func (s *Server) putBatch(ctx context.Context, in *putBatchInput) (any, error) {
	name := *in.DeliveryStreamName
	if err := s.putTarget(name); err != nil {
		return nil, err
	}
	total := 0
	data := make([][]byte, len(in.Records))
	for i, r := range in.Records {
		data[i] = r.Data
		total += len(r.Data)
	}
	if total > MaxBatchBytes {
		return nil, invalid("Records size exceeds 4 MB limit")
	}
	res, err := s.opts.Backend.Put(ctx, name, data)
	if err != nil {
		return nil, err
	}
	out := putBatchOutput{RequestResponses: make([]batchEntry, len(res))}
	var okBytes int64
	for i, r := range res {
		if r.Err != nil {
			out.FailedPutCount++
			out.RequestResponses[i] = batchEntry{ErrorCode: string(codeUnavailable), ErrorMessage: msgServiceUnavailableSlowDown}
			continue
		}
		okBytes += int64(len(data[i]))
		out.RequestResponses[i] = batchEntry{RecordId: r.RecordID}
	}
	s.count(name, int64(len(res)-out.FailedPutCount), okBytes, int64(out.FailedPutCount))
	return out, nil
}

func checkUpdate(in *updateInput, vs *violations) {
	vs.check("deliveryStreamName", str(in.DeliveryStreamName), nameRule.Need())
	vs.check("currentDeliveryStreamVersionId", str(in.CurrentDeliveryStreamVersionId), versionRule.Need())
	vs.check("destinationId", str(in.DestinationId), destIDRule.Need())
	if c := in.S3DestinationUpdate; c != nil {
		vs.checkS3("s3DestinationUpdate", c, true)
	}
	if c := in.ExtendedS3DestinationUpdate; c != nil {
		vs.checkExtendedS3("extendedS3DestinationUpdate", c, true)
	}
	if c := in.HttpEndpointDestinationUpdate; c != nil {
		vs.checkHTTP("httpEndpointDestinationUpdate", c, true)
	}
}

func (s *Server) update(ctx context.Context, in *updateInput) (any, error) {
	name := *in.DeliveryStreamName
	ds, ok := s.reg.get(name)
	if !ok {
		return nil, s.notFound(name)
	}
	if ds.Status != StatusActive {
		return nil, &apiError{code: codeInUse, msg: fmt.Sprintf("Firehose %s is not in the ACTIVE state.", name)}
	}
	if cur := strconv.FormatInt(ds.Version, 10); *in.CurrentDeliveryStreamVersionId != cur {
		return nil, &apiError{code: codeConcurrentMod, msg: fmt.Sprintf("Cannot update firehose: %s since the current version id: %s and specified version id: %s do not match", name, cur, *in.CurrentDeliveryStreamVersionId)}
	}
	if *in.DestinationId != destinationID {
		return nil, invalid(fmt.Sprintf("Destination Id %s not found", *in.DestinationId))
	}
	for field, set := range map[string]bool{
		"RedshiftDestinationUpdate":      in.RedshiftDestinationUpdate != nil,
		"ElasticsearchDestinationUpdate": in.ElasticsearchDestinationUpdate != nil,
		"SplunkDestinationUpdate":        in.SplunkDestinationUpdate != nil,
		"SnowflakeDestinationUpdate":     in.SnowflakeDestinationUpdate != nil,
		"IcebergDestinationUpdate":       in.IcebergDestinationUpdate != nil,
	} {
		if set {
			return nil, invalid(field + " is not supported by this server (S3, ExtendedS3 and HttpEndpoint destinations are).")
		}
	}
	next := ds
	switch {
	case in.ExtendedS3DestinationUpdate != nil || in.S3DestinationUpdate != nil:
		if ds.S3 == nil {
			return nil, invalid("Changing the destination type to or from HttpEndpoint is not supported at this time.")
		}
		u := in.ExtendedS3DestinationUpdate
		if u == nil {
			u = &ExtendedS3DestinationConfiguration{S3DestinationConfiguration: *in.S3DestinationUpdate}
		}
		merged := *ds.S3
		mergeS3(&merged.S3DestinationConfiguration, &u.S3DestinationConfiguration)
		set(&merged.ProcessingConfiguration, u.ProcessingConfiguration)
		set(&merged.S3BackupMode, u.S3BackupMode)
		set(&merged.S3BackupConfiguration, u.S3BackupConfiguration)
		set(&merged.DataFormatConversionConfiguration, u.DataFormatConversionConfiguration)
		set(&merged.DynamicPartitioningConfiguration, u.DynamicPartitioningConfiguration)
		set(&merged.FileExtension, u.FileExtension)
		set(&merged.CustomTimeZone, u.CustomTimeZone)
		next.S3 = &merged
	case in.HttpEndpointDestinationUpdate != nil:
		if ds.HTTP == nil {
			return nil, invalid("Changing the destination type to or from HttpEndpoint is not supported at this time.")
		}
		u := in.HttpEndpointDestinationUpdate
		merged := *ds.HTTP
		set(&merged.EndpointConfiguration, u.EndpointConfiguration)
		set(&merged.BufferingHints, u.BufferingHints)
		set(&merged.RequestConfiguration, u.RequestConfiguration)
		set(&merged.ProcessingConfiguration, u.ProcessingConfiguration)
		set(&merged.RoleARN, u.RoleARN)
		set(&merged.RetryOptions, u.RetryOptions)
		set(&merged.S3BackupMode, u.S3BackupMode)
		if u.S3Configuration != nil {
			b := *merged.S3Configuration
			mergeS3(&b, u.S3Configuration)
			merged.S3Configuration = &b
		}
		next.HTTP = &merged
	}
	next.Version++
	next.Updated = s.opts.Now()
	cfg, err := s.deliveryConfig(next)
	if err != nil {
		return nil, err
	}
	if err := s.opts.Backend.Stop(ctx, name); err != nil {
		return nil, err
	}
	if err := s.reg.put(next); err != nil {
		return nil, err
	}
	if err := s.opts.Backend.Start(s.ctx, next, cfg); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func set[T any](dst *T, src T) {
	var zero T
	if any(src) != any(zero) {
		*dst = src
	}
}

func mergeS3(dst, u *S3DestinationConfiguration) {
	set(&dst.RoleARN, u.RoleARN)
	set(&dst.BucketARN, u.BucketARN)
	set(&dst.Prefix, u.Prefix)
	set(&dst.ErrorOutputPrefix, u.ErrorOutputPrefix)
	set(&dst.BufferingHints, u.BufferingHints)
	set(&dst.CompressionFormat, u.CompressionFormat)
	set(&dst.EncryptionConfiguration, u.EncryptionConfiguration)
	set(&dst.CloudWatchLoggingOptions, u.CloudWatchLoggingOptions)
}

func checkTag(in *tagInput, vs *violations) {
	vs.check("deliveryStreamName", str(in.DeliveryStreamName), nameRule.Need())
	checkTags("tags", in.Tags, vs, true)
}

func uniqueTagKeys(tags []Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[*t.Key] {
			return invalid("Duplicate tag keys are not allowed: " + *t.Key)
		}
		seen[*t.Key] = true
	}
	return nil
}

func (s *Server) tag(ctx context.Context, in *tagInput) (any, error) {
	name := *in.DeliveryStreamName
	if err := uniqueTagKeys(in.Tags); err != nil {
		return nil, err
	}
	return empty{}, s.reg.update(func(m map[string]DeliveryStream) error {
		ds, ok := m[name]
		if !ok {
			return s.notFound(name)
		}
		tags := append([]Tag(nil), ds.Tags...)
		for _, t := range in.Tags {
			found := false
			for i := range tags {
				if *tags[i].Key == *t.Key {
					tags[i].Value, found = t.Value, true
				}
			}
			if !found {
				tags = append(tags, t)
			}
		}
		if len(tags) > MaxTags {
			return &apiError{code: codeLimitExceeded, msg: fmt.Sprintf("Delivery stream %s has %d tags; a delivery stream can have at most %d.", name, len(tags), MaxTags)}
		}
		ds.Tags = tags
		m[name] = ds
		return nil
	})
}

func checkUntag(in *untagInput, vs *violations) {
	vs.check("deliveryStreamName", str(in.DeliveryStreamName), nameRule.Need())
	vs.check("tagKeys", list(in.TagKeys), tagListRule.Need())
	for i, k := range in.TagKeys {
		vs.check("tagKeys."+itoa(i+1)+".member", str(&k), tagKeyRule)
	}
}

func (s *Server) untag(ctx context.Context, in *untagInput) (any, error) {
	name := *in.DeliveryStreamName
	return empty{}, s.reg.update(func(m map[string]DeliveryStream) error {
		ds, ok := m[name]
		if !ok {
			return s.notFound(name)
		}
		drop := map[string]bool{}
		for _, k := range in.TagKeys {
			drop[k] = true
		}
		var tags []Tag
		for _, t := range ds.Tags {
			if !drop[*t.Key] {
				tags = append(tags, t)
			}
		}
		ds.Tags = tags
		m[name] = ds
		return nil
	})
}

func checkListTags(in *listTagsInput, vs *violations) {
	vs.check("deliveryStreamName", str(in.DeliveryStreamName), nameRule.Need())
	vs.check("exclusiveStartTagKey", str(in.ExclusiveStartTagKey), tagKeyRule)
	vs.check("limit", num(in.Limit), tagLimit)
}

func (s *Server) listTags(ctx context.Context, in *listTagsInput) (any, error) {
	ds, ok := s.reg.get(*in.DeliveryStreamName)
	if !ok {
		return nil, s.notFound(*in.DeliveryStreamName)
	}
	tags := append([]Tag(nil), ds.Tags...)
	sort.SliceStable(tags, func(i, j int) bool { return *tags[i].Key < *tags[j].Key })
	limit := 50
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	out := listTagsOutput{Tags: []Tag{}}
	for _, t := range tags {
		if in.ExclusiveStartTagKey != nil && *t.Key <= *in.ExclusiveStartTagKey {
			continue
		}
		if len(out.Tags) == limit {
			out.HasMoreTags = true
			break
		}
		out.Tags = append(out.Tags, t)
	}
	return out, nil
}
