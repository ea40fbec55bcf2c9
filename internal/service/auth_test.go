package service

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

const credsFile = `{"Credentials": [
  {"AccessKeyId": "AKIAOPS", "SecretAccessKey": "ops-secret"},
  {"AccessKeyId": "AKIAAPP", "SecretAccessKey": "app-secret", "Arn": "arn:aws:iam::000000000000:user/app",
   "Policy": {"Version": "2012-10-17", "Statement": [
     {"Effect": "Allow", "Action": ["firehose:PutRecord*", "firehose:ListDeliveryStreams"], "Resource": "*"},
     {"Effect": "Deny", "Action": "firehose:*", "Resource": "arn:aws:firehose:*:*:deliverystream/private"}]}}]}`

func firehoseAs(addr, key, secret string) *firehose.Client {
	return firehose.New(firehose.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""), Retryer: retryer()})
}

// TestAuth: with --credentials, Firehose requests are verified as the
// Kinesis API verifies its own (scoped to the firehose service), and each
// key's policy is enforced with firehose:<Operation> actions.
func TestAuth(t *testing.T) {
	dir := t.TempDir()
	cf := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(cf, []byte(credsFile), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startEnvWith(t, dir, func(o *Options) { o.CredentialsFile = cf })
	ctx := context.Background()
	ops := firehoseAs(e.addr, "AKIAOPS", "ops-secret")
	for _, name := range []string{"orders", "private"} {
		if _, err := ops.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String(name), ExtendedS3DestinationConfiguration: s3Dest("lake")}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Firehose().WaitActive(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	app := firehoseAs(e.addr, "AKIAAPP", "app-secret")
	if _, err := app.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders"), Record: &types.Record{Data: []byte("a\n")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := app.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	apiErr(t, err, "AccessDeniedException", "User: arn:aws:iam::000000000000:user/app is not authorized to perform: firehose:DescribeDeliveryStream on resource: arn:aws:firehose:us-east-1:000000000000:deliverystream/orders because no identity-based policy allows the firehose:DescribeDeliveryStream action")
	_, err = app.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("private"), Record: &types.Record{Data: []byte("a")}})
	apiErr(t, err, "AccessDeniedException", "User: arn:aws:iam::000000000000:user/app is not authorized to perform: firehose:PutRecord on resource: arn:aws:firehose:us-east-1:000000000000:deliverystream/private with an explicit deny in an identity-based policy")
	_, err = firehoseAs(e.addr, "AKIAOPS", "wrong").ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{})
	apiErr(t, err, "InvalidSignatureException", "")
	_, err = firehoseAs(e.addr, "AKIANOBODY", "x").ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{})
	apiErr(t, err, "UnrecognizedClientException", "")
	// The Kinesis API beside it takes the same keys, scoped to kinesis.
	kin := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + e.addr),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAOPS", "ops-secret", ""), Retryer: retryer()})
	if _, err := kin.ListStreams(ctx, &kinesis.ListStreamsInput{}); err != nil {
		t.Fatal(err)
	}
	// An unsigned request.
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.addr+"/", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Firehose_20150804.ListDeliveryStreams")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(body) != `{"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"}` {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, body)
	}
}
