package service

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

const role = "arn:aws:iam::000000000000:role/firehose"

func s3Dest(bucket string) *types.ExtendedS3DestinationConfiguration {
	return &types.ExtendedS3DestinationConfiguration{
		RoleARN: aws.String(role), BucketARN: aws.String("arn:aws:s3:::" + bucket),
		Prefix:         aws.String("data/"),
		BufferingHints: &types.BufferingHints{IntervalInSeconds: aws.Int32(0), SizeInMBs: aws.Int32(1)},
	}
}

func create(t *testing.T, e *env, name, bucket string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.fh.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(name), ExtendedS3DestinationConfiguration: s3Dest(bucket),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Firehose().WaitActive(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestGoSDK drives every operation with the AWS SDK for Go v2's Firehose
// client against the service in process, and checks what was delivered.
func TestGoSDK(t *testing.T) {
	e := startEnv(t, t.TempDir())
	ctx := context.Background()
	create(t, e, "orders", "lake")

	d, err := e.fh.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	desc := d.DeliveryStreamDescription
	if desc.DeliveryStreamStatus != types.DeliveryStreamStatusActive || desc.DeliveryStreamType != types.DeliveryStreamTypeDirectPut ||
		*desc.VersionId != "1" || *desc.DeliveryStreamARN != "arn:aws:firehose:us-east-1:000000000000:deliverystream/orders" ||
		len(desc.Destinations) != 1 || *desc.Destinations[0].DestinationId != "destinationId-000000000001" ||
		*desc.Destinations[0].ExtendedS3DestinationDescription.BucketARN != "arn:aws:s3:::lake" || desc.CreateTimestamp == nil {
		t.Fatalf("describe: %+v", desc)
	}

	// PutRecord and PutRecordBatch: acknowledged records are delivered.
	var want []string
	for i := range 5 {
		data := fmt.Sprintf("one-%d", i)
		out, err := e.fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders"), Record: &types.Record{Data: []byte(data + "\n")}})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.RecordId) == "" {
			t.Fatal("no record id")
		}
		want = append(want, data)
	}
	var batch []types.Record
	for i := range 500 {
		data := fmt.Sprintf("batch-%03d", i)
		batch = append(batch, types.Record{Data: []byte(data + "\n")})
		want = append(want, data)
	}
	bo, err := e.fh.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("orders"), Records: batch})
	if err != nil {
		t.Fatal(err)
	}
	if *bo.FailedPutCount != 0 || len(bo.RequestResponses) != 500 || bo.RequestResponses[499].RecordId == nil {
		t.Fatalf("batch: %d failed, %d responses", *bo.FailedPutCount, len(bo.RequestResponses))
	}
	got := waitLines(t, filepath.Join(e.dir, "buckets", "lake"), len(want))
	if strings.Join(got, ",") != strings.Join(sorted(want), ",") {
		t.Fatalf("delivered %d records, want %d", len(got), len(want))
	}
	for k := range objects(t, filepath.Join(e.dir, "buckets", "lake")) {
		if !strings.HasPrefix(k, "data/") || !strings.HasPrefix(filepath.Base(k), "orders-1-") {
			t.Fatalf("object %s is not under the prefix, named for the stream and version", k)
		}
	}

	// Limits of a put.
	_, err = e.fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders"), Record: &types.Record{Data: make([]byte, 1024001)}})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at 'record.data' failed to satisfy constraint: Member must have length less than or equal to 1024000")
	_, err = e.fh.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("orders"), Records: append(batch, types.Record{Data: []byte("x")})})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value '[...]' at 'records' failed to satisfy constraint: Member must have length less than or equal to 500")
	big := make([]types.Record, 5)
	for i := range big {
		big[i] = types.Record{Data: make([]byte, 1000*1024)}
	}
	_, err = e.fh.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("orders"), Records: big})
	apiErr(t, err, "InvalidArgumentException", "")
	_, err = e.fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("missing"), Record: &types.Record{Data: []byte("x")}})
	apiErr(t, err, "ResourceNotFoundException", "Firehose missing under account 000000000000 not found.")

	// Create: errors.
	_, err = e.fh.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("orders"), ExtendedS3DestinationConfiguration: s3Dest("lake")})
	apiErr(t, err, "ResourceInUseException", "Firehose orders under accountId 000000000000 already exists")
	bad := s3Dest("lake")
	bad.RoleARN = aws.String("role")
	bad.BufferingHints.SizeInMBs = aws.Int32(0)
	_, err = e.fh.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("a b"), ExtendedS3DestinationConfiguration: bad})
	apiErr(t, err, "ValidationException", "3 validation errors detected: "+
		"Value 'a b' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "+
		"Value 'role' at 'extendedS3DestinationConfiguration.roleARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+; "+
		"Value '0' at 'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value greater than or equal to 1")
	_, err = e.fh.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("nodest")})
	apiErr(t, err, "InvalidArgumentException", "")
	_, err = e.fh.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("badprefix"), ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
			RoleARN: aws.String(role), BucketARN: aws.String("arn:aws:s3:::lake"), Prefix: aws.String("!{nope}/")}})
	apiErr(t, err, "InvalidArgumentException", "")

	// List, with paging.
	create(t, e, "payments", "lake2")
	create(t, e, "clicks", "lake3")
	l, err := e.fh.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{Limit: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(l.DeliveryStreamNames, ",") != "clicks,orders" || !*l.HasMoreDeliveryStreams {
		t.Fatalf("list: %v %v", l.DeliveryStreamNames, *l.HasMoreDeliveryStreams)
	}
	l, err = e.fh.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{ExclusiveStartDeliveryStreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(l.DeliveryStreamNames, ",") != "payments" || *l.HasMoreDeliveryStreams {
		t.Fatalf("list after orders: %v", l.DeliveryStreamNames)
	}
	_, err = e.fh.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{Limit: aws.Int32(0)})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")

	// Tags.
	if _, err := e.fh.TagDeliveryStream(ctx, &firehose.TagDeliveryStreamInput{DeliveryStreamName: aws.String("orders"),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("payments")}}}); err != nil {
		t.Fatal(err)
	}
	lt, err := e.fh.ListTagsForDeliveryStream(ctx, &firehose.ListTagsForDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.Tags) != 2 || *lt.Tags[0].Key != "env" || *lt.Tags[1].Value != "payments" || *lt.HasMoreTags {
		t.Fatalf("tags: %+v", lt.Tags)
	}
	lt, err = e.fh.ListTagsForDeliveryStream(ctx, &firehose.ListTagsForDeliveryStreamInput{DeliveryStreamName: aws.String("orders"), Limit: aws.Int32(1)})
	if err != nil || len(lt.Tags) != 1 || !*lt.HasMoreTags {
		t.Fatalf("tags page: %v %+v", err, lt)
	}
	if _, err := e.fh.UntagDeliveryStream(ctx, &firehose.UntagDeliveryStreamInput{DeliveryStreamName: aws.String("orders"), TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	lt, _ = e.fh.ListTagsForDeliveryStream(ctx, &firehose.ListTagsForDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	if len(lt.Tags) != 1 || *lt.Tags[0].Key != "team" {
		t.Fatalf("after untag: %+v", lt.Tags)
	}
	_, err = e.fh.TagDeliveryStream(ctx, &firehose.TagDeliveryStreamInput{DeliveryStreamName: aws.String("orders"), Tags: []types.Tag{{Key: aws.String("aws:x")}}})
	apiErr(t, err, "ValidationException", `1 validation error detected: Value 'aws:x' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`)
	var many []types.Tag
	for i := range 50 {
		many = append(many, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i))})
	}
	_, err = e.fh.TagDeliveryStream(ctx, &firehose.TagDeliveryStreamInput{DeliveryStreamName: aws.String("orders"), Tags: many})
	apiErr(t, err, "LimitExceededException", "")
	_, err = e.fh.UntagDeliveryStream(ctx, &firehose.UntagDeliveryStreamInput{DeliveryStreamName: aws.String("missing"), TagKeys: []string{"a"}})
	apiErr(t, err, "ResourceNotFoundException", "Firehose missing under account 000000000000 not found.")

	// UpdateDestination: version and destination checks, then a new
	// prefix and version in object names.
	upd := &firehose.UpdateDestinationInput{DeliveryStreamName: aws.String("orders"), CurrentDeliveryStreamVersionId: aws.String("7"),
		DestinationId:               aws.String("destinationId-000000000001"),
		ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{Prefix: aws.String("v2/")}}
	_, err = e.fh.UpdateDestination(ctx, upd)
	apiErr(t, err, "ConcurrentModificationException", "Cannot update firehose: orders since the current version id: 1 and specified version id: 7 do not match")
	upd.CurrentDeliveryStreamVersionId = aws.String("1")
	upd.DestinationId = aws.String("destinationId-000000000009")
	_, err = e.fh.UpdateDestination(ctx, upd)
	apiErr(t, err, "InvalidArgumentException", "")
	upd.DestinationId = aws.String("destinationId-000000000001")
	if _, err := e.fh.UpdateDestination(ctx, upd); err != nil {
		t.Fatal(err)
	}
	d, _ = e.fh.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	if *d.DeliveryStreamDescription.VersionId != "2" || *d.DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription.Prefix != "v2/" ||
		d.DeliveryStreamDescription.LastUpdateTimestamp == nil {
		t.Fatalf("after update: %+v", d.DeliveryStreamDescription)
	}
	if _, err := e.fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders"), Record: &types.Record{Data: []byte("after-update\n")}}); err != nil {
		t.Fatal(err)
	}
	got = waitLines(t, filepath.Join(e.dir, "buckets", "lake"), len(want)+1)
	found := false
	for k, body := range objects(t, filepath.Join(e.dir, "buckets", "lake")) {
		if body == "after-update\n" && strings.HasPrefix(k, "v2/") && strings.HasPrefix(filepath.Base(k), "orders-2-") {
			found = true
		}
	}
	if !found || len(got) != len(want)+1 {
		t.Fatalf("the record after the update is not under v2/ as version 2 (%d records)", len(got))
	}

	// Delete: DELETING, then gone.
	if _, err := e.fh.DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("clicks")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.fh.DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("missing")})
	apiErr(t, err, "ResourceNotFoundException", "Firehose missing under account 000000000000 not found.")
	e.svc.Firehose().WaitIdle()
	_, err = e.fh.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("clicks")})
	apiErr(t, err, "ResourceNotFoundException", "Firehose clicks under account 000000000000 not found.")
}

// TestKinesisSource delivers a Kinesis stream of the same server, which
// the Kinesis API serves on the same address.
func TestKinesisSource(t *testing.T) {
	e := startEnv(t, t.TempDir())
	ctx := context.Background()
	if _, err := e.kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("events"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	src := &types.KinesisStreamSourceConfiguration{KinesisStreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/events"), RoleARN: aws.String(role)}
	if _, err := e.fh.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("events-lake"), DeliveryStreamType: types.DeliveryStreamTypeKinesisStreamAsSource,
		KinesisStreamSourceConfiguration: src, ExtendedS3DestinationConfiguration: s3Dest("events")}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Firehose().WaitActive(ctx, "events-lake"); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 20 {
		data := fmt.Sprintf("ev-%02d", i)
		if _, err := e.kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("events"), PartitionKey: aws.String(data), Data: []byte(data + "\n")}); err != nil {
			t.Fatal(err)
		}
		want = append(want, data)
	}
	got := waitLines(t, filepath.Join(e.dir, "buckets", "events"), len(want))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("delivered %v", got)
	}
	_, err := e.fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("events-lake"), Record: &types.Record{Data: []byte("x")}})
	apiErr(t, err, "InvalidArgumentException", "This operation is not permitted on KinesisStreamAsSource delivery stream type.")
	d, err := e.fh.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("events-lake")})
	if err != nil || *d.DeliveryStreamDescription.Source.KinesisStreamSourceDescription.KinesisStreamARN != *src.KinesisStreamARN {
		t.Fatalf("describe: %v %+v", err, d)
	}
	// The delivery stream's own input is not a Kinesis stream.
	ls, err := e.kin.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil || strings.Join(ls.StreamNames, ",") != "events" {
		t.Fatalf("Kinesis streams: %v %v", err, ls.StreamNames)
	}
	src.KinesisStreamARN = aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/missing")
	_, err = e.fh.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("other"), DeliveryStreamType: types.DeliveryStreamTypeKinesisStreamAsSource,
		KinesisStreamSourceConfiguration: src, ExtendedS3DestinationConfiguration: s3Dest("events")})
	apiErr(t, err, "InvalidArgumentException", "")
}

// TestRestart: delivery streams, their tags and versions survive a
// restart, and delivery goes on.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	e := startEnv(t, dir)
	ctx := context.Background()
	create(t, e, "orders", "lake")
	if _, err := e.fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders"), Record: &types.Record{Data: []byte("before\n")}}); err != nil {
		t.Fatal(err)
	}
	e.stop()
	// A clean stop delivered what was buffered.
	if got := lines(t, filepath.Join(dir, "buckets", "lake")); strings.Join(got, ",") != "before" {
		t.Fatalf("after stop: %v", got)
	}
	e = startEnv(t, dir)
	d, err := e.fh.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	if err != nil || d.DeliveryStreamDescription.DeliveryStreamStatus != types.DeliveryStreamStatusActive {
		t.Fatalf("after restart: %v", err)
	}
	lt, _ := e.fh.ListTagsForDeliveryStream(ctx, &firehose.ListTagsForDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	if len(lt.Tags) != 1 || *lt.Tags[0].Key != "team" {
		t.Fatalf("tags after restart: %+v", lt.Tags)
	}
	if _, err := e.fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders"), Record: &types.Record{Data: []byte("after\n")}}); err != nil {
		t.Fatal(err)
	}
	got := waitLines(t, filepath.Join(dir, "buckets", "lake"), 2)
	if strings.Join(got, ",") != "after,before" {
		t.Fatalf("after restart: %v", got)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
