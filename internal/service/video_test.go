package service

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	kvtypes "github.com/aws/aws-sdk-go-v2/service/kinesisvideo/types"

	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/videoapi"
)

// The video streams' APIs answer on the service's one address beside the
// Kinesis API, and their data survives a restart.
func TestVideoBesideTheOtherAPIs(t *testing.T) {
	dir := t.TempDir()
	e := startEnvWith(t, dir, func(o *Options) { o.Video = true })
	ctx := context.Background()
	kv := kinesisvideo.New(kinesisvideo.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + e.addr), Retryer: retryer(),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	if _, err := kv.CreateStream(ctx, &kinesisvideo.CreateStreamInput{StreamName: aws.String("cam"), DataRetentionInHours: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	ep, err := kv.GetDataEndpoint(ctx, &kinesisvideo.GetDataEndpointInput{StreamName: aws.String("cam"), APIName: kvtypes.APINamePutMedia})
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.Open(filepath.Join("..", "..", "connectors", "video", "testdata", "testsrc.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	cl := &videoapi.Client{Endpoint: *ep.DataEndpoint, Region: "us-east-1", Credentials: aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}}
	persisted := 0
	if err := cl.PutMedia(ctx, videoapi.PutMediaInput{StreamName: "cam", TimecodeType: "ABSOLUTE", Body: body}, func(a video.Ack) {
		if a.EventType == video.AckPersisted {
			persisted++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if persisted != 5 {
		t.Fatalf("%d fragments persisted, want 5", persisted)
	}
	// The Kinesis API still answers.
	if _, err := e.kin.ListStreams(ctx, nil); err != nil {
		t.Fatal(err)
	}
	e.stop()
	e2 := startEnvWith(t, dir, func(o *Options) { o.Video = true })
	fs, err := e2.svc.Video().Store().Fragments(ctx, "cam", video.ServerTimestamp, e2.svc.Video().Store().ListStreams("")[0].CreationTime, e2.svc.Video().Store().ListStreams("")[0].CreationTime.Add(3600e9))
	if err != nil || len(fs) != 5 {
		t.Fatalf("after restart: %d fragments, %v", len(fs), err)
	}
}
