package videoapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	kvtypes "github.com/aws/aws-sdk-go-v2/service/kinesisvideo/types"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/videoapi"
)

var testCreds = aws.Credentials{AccessKeyID: "AKIDVIDEOTEST", SecretAccessKey: "video-secret"}

type env struct {
	url    string
	store  *video.Store
	kv     *kinesisvideo.Client
	client *videoapi.Client
}

// start serves the API on 127.0.0.1 with SigV4 checked by the log
// server's verification against one key.
func start(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	l, err := shardlog.Open(shardlog.Options{Dir: filepath.Join(dir, "log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	creds, err := kinesisapi.NewCredentials("000000000000", []kinesisapi.Principal{{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}})
	if err != nil {
		t.Fatal(err)
	}
	ks := kinesisapi.New(l, kinesisapi.Options{Credentials: creds})
	st, err := video.Open(video.Options{Dir: filepath.Join(dir, "video")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := videoapi.New(st, videoapi.Options{
		Authenticate:          func(r *http.Request, body []byte) (any, error) { return ks.Verify(r, body, videoapi.SigningName) },
		AuthenticateStreaming: func(r *http.Request) (any, error) { return ks.VerifyStreaming(r, videoapi.SigningName) },
		ErrorLog:              t.Logf,
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	kv := kinesisvideo.New(kinesisvideo.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(hs.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return testCreds, nil }),
	})
	return &env{url: hs.URL, store: st, kv: kv, client: &videoapi.Client{Endpoint: hs.URL, Region: "us-east-1", Credentials: testCreds}}
}

func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || (msg != "" && ae.ErrorMessage() != msg) {
		t.Fatalf("got %s: %q, want %s: %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

func TestControlPlaneWithSDK(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	out, err := e.kv.CreateStream(ctx, &kinesisvideo.CreateStreamInput{
		StreamName: aws.String("cam-1"), MediaType: aws.String("video/h264"), DeviceName: aws.String("door"),
		DataRetentionInHours: aws.Int32(24), Tags: map[string]string{"site": "north"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(*out.StreamARN, "arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam-1/") {
		t.Fatalf("ARN %s", *out.StreamARN)
	}
	_, err = e.kv.CreateStream(ctx, &kinesisvideo.CreateStreamInput{StreamName: aws.String("cam-1")})
	wantAPIError(t, err, "ResourceInUseException", "")
	_, err = e.kv.CreateStream(ctx, &kinesisvideo.CreateStreamInput{StreamName: aws.String("bad name")})
	wantAPIError(t, err, "InvalidArgumentException", "1 validation error detected: Value 'bad name' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
	for _, n := range []string{"cam-2", "lobby"} {
		if _, err := e.kv.CreateStream(ctx, &kinesisvideo.CreateStreamInput{StreamName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}

	d, err := e.kv.DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{StreamName: aws.String("cam-1")})
	if err != nil {
		t.Fatal(err)
	}
	si := d.StreamInfo
	if *si.StreamARN != *out.StreamARN || si.Status != kvtypes.StatusActive || *si.DataRetentionInHours != 24 ||
		*si.MediaType != "video/h264" || *si.DeviceName != "door" || si.CreationTime.IsZero() || *si.Version == "" {
		t.Fatalf("DescribeStream %+v", si)
	}
	byARN, err := e.kv.DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{StreamARN: out.StreamARN})
	if err != nil || *byARN.StreamInfo.StreamName != "cam-1" {
		t.Fatalf("by ARN: %v", err)
	}
	_, err = e.kv.DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{StreamName: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", "The requested stream is not found or not active.")
	_, err = e.kv.DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{})
	wantAPIError(t, err, "InvalidArgumentException", "Either streamName or streamARN must be specified, but not both.")

	// ListStreams: a prefix, pages.
	l, err := e.kv.ListStreams(ctx, &kinesisvideo.ListStreamsInput{StreamNameCondition: &kvtypes.StreamNameCondition{
		ComparisonOperator: kvtypes.ComparisonOperatorBeginsWith, ComparisonValue: aws.String("cam")}})
	if err != nil || len(l.StreamInfoList) != 2 || l.NextToken != nil {
		t.Fatalf("ListStreams cam: %v %+v", err, l)
	}
	var names []string
	p := kinesisvideo.NewListStreamsPaginator(e.kv, &kinesisvideo.ListStreamsInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.StreamInfoList {
			names = append(names, *s.StreamName)
		}
	}
	if strings.Join(names, ",") != "cam-1,cam-2,lobby" {
		t.Fatalf("pages: %v", names)
	}
	_, err = e.kv.ListStreams(ctx, &kinesisvideo.ListStreamsInput{MaxResults: aws.Int32(0)})
	wantAPIError(t, err, "InvalidArgumentException", "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1")

	// Versions: UpdateStream and UpdateDataRetention check and change them.
	v := *si.Version
	_, err = e.kv.UpdateStream(ctx, &kinesisvideo.UpdateStreamInput{StreamName: aws.String("cam-1"), CurrentVersion: aws.String("0000"), MediaType: aws.String("video/h265")})
	wantAPIError(t, err, "VersionMismatchException", "")
	if _, err := e.kv.UpdateStream(ctx, &kinesisvideo.UpdateStreamInput{StreamName: aws.String("cam-1"), CurrentVersion: aws.String(v), MediaType: aws.String("video/h265")}); err != nil {
		t.Fatal(err)
	}
	d, _ = e.kv.DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{StreamName: aws.String("cam-1")})
	if *d.StreamInfo.MediaType != "video/h265" || *d.StreamInfo.Version == v {
		t.Fatalf("after UpdateStream %+v", d.StreamInfo)
	}
	v = *d.StreamInfo.Version
	if _, err := e.kv.UpdateDataRetention(ctx, &kinesisvideo.UpdateDataRetentionInput{StreamName: aws.String("cam-1"), CurrentVersion: aws.String(v),
		Operation: kvtypes.UpdateDataRetentionOperationIncreaseDataRetention, DataRetentionChangeInHours: aws.Int32(6)}); err != nil {
		t.Fatal(err)
	}
	d, _ = e.kv.DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{StreamName: aws.String("cam-1")})
	if *d.StreamInfo.DataRetentionInHours != 30 {
		t.Fatalf("retention %d", *d.StreamInfo.DataRetentionInHours)
	}
	_, err = e.kv.UpdateDataRetention(ctx, &kinesisvideo.UpdateDataRetentionInput{StreamName: aws.String("cam-1"), CurrentVersion: d.StreamInfo.Version,
		Operation: kvtypes.UpdateDataRetentionOperationDecreaseDataRetention, DataRetentionChangeInHours: aws.Int32(31)})
	wantAPIError(t, err, "InvalidArgumentException", "")
	_, err = e.kv.UpdateDataRetention(ctx, &kinesisvideo.UpdateDataRetentionInput{StreamName: aws.String("cam-1"), CurrentVersion: d.StreamInfo.Version,
		Operation: "SIDEWAYS", DataRetentionChangeInHours: aws.Int32(1)})
	wantAPIError(t, err, "InvalidArgumentException", "1 validation error detected: Value 'SIDEWAYS' at 'operation' failed to satisfy constraint: Member must satisfy enum value set: [INCREASE_DATA_RETENTION, DECREASE_DATA_RETENTION]")

	// GetDataEndpoint: this server.
	ep, err := e.kv.GetDataEndpoint(ctx, &kinesisvideo.GetDataEndpointInput{StreamName: aws.String("cam-1"), APIName: kvtypes.APINamePutMedia})
	if err != nil || *ep.DataEndpoint != e.url {
		t.Fatalf("GetDataEndpoint %v %v", ep, err)
	}

	// Tags, both families.
	if _, err := e.kv.TagStream(ctx, &kinesisvideo.TagStreamInput{StreamName: aws.String("cam-1"), Tags: map[string]string{"floor": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.kv.UntagStream(ctx, &kinesisvideo.UntagStreamInput{StreamARN: out.StreamARN, TagKeyList: []string{"site"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.kv.TagResource(ctx, &kinesisvideo.TagResourceInput{ResourceARN: out.StreamARN, Tags: []kvtypes.Tag{{Key: aws.String("team"), Value: aws.String("ops")}}}); err != nil {
		t.Fatal(err)
	}
	tl, err := e.kv.ListTagsForStream(ctx, &kinesisvideo.ListTagsForStreamInput{StreamName: aws.String("cam-1")})
	if err != nil || len(tl.Tags) != 2 || tl.Tags["floor"] != "2" || tl.Tags["team"] != "ops" {
		t.Fatalf("ListTagsForStream %v %v", tl, err)
	}
	if _, err := e.kv.UntagResource(ctx, &kinesisvideo.UntagResourceInput{ResourceARN: out.StreamARN, TagKeyList: []string{"floor"}}); err != nil {
		t.Fatal(err)
	}
	tr, err := e.kv.ListTagsForResource(ctx, &kinesisvideo.ListTagsForResourceInput{ResourceARN: out.StreamARN})
	if err != nil || len(tr.Tags) != 1 || tr.Tags["team"] != "ops" {
		t.Fatalf("ListTagsForResource %v %v", tr, err)
	}
	many := map[string]string{}
	for i := 0; i < 50; i++ {
		many["k"+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	_, err = e.kv.TagStream(ctx, &kinesisvideo.TagStreamInput{StreamName: aws.String("cam-1"), Tags: many})
	wantAPIError(t, err, "TagsPerResourceExceededLimitException", "")
	_, err = e.kv.ListTagsForResource(ctx, &kinesisvideo.ListTagsForResourceInput{ResourceARN: aws.String("arn:aws:kinesisvideo:us-east-1:000000000000:stream/nope/1")})
	wantAPIError(t, err, "ResourceNotFoundException", "")

	// DeleteStream checks the version it is given.
	_, err = e.kv.DeleteStream(ctx, &kinesisvideo.DeleteStreamInput{StreamARN: out.StreamARN, CurrentVersion: aws.String("0000")})
	wantAPIError(t, err, "VersionMismatchException", "")
	d, _ = e.kv.DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{StreamName: aws.String("cam-1")})
	if _, err := e.kv.DeleteStream(ctx, &kinesisvideo.DeleteStreamInput{StreamARN: out.StreamARN, CurrentVersion: d.StreamInfo.Version}); err != nil {
		t.Fatal(err)
	}
	_, err = e.kv.DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{StreamARN: out.StreamARN})
	wantAPIError(t, err, "ResourceNotFoundException", "")

	// A wrong key is refused by the log server's verification.
	bad := kinesisvideo.New(kinesisvideo.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "wrong"}, nil
		})})
	_, err = bad.ListStreams(ctx, &kinesisvideo.ListStreamsInput{})
	wantAPIError(t, err, "InvalidSignatureException", "")
}

func fixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "testsrc.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPutMediaGetMediaOverHTTP(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if _, err := e.kv.CreateStream(ctx, &kinesisvideo.CreateStreamInput{StreamName: aws.String("cam"), DataRetentionInHours: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	ep, err := e.kv.GetDataEndpoint(ctx, &kinesisvideo.GetDataEndpointInput{StreamName: aws.String("cam"), APIName: kvtypes.APINameGetMedia})
	if err != nil {
		t.Fatal(err)
	}
	cl := &videoapi.Client{Endpoint: *ep.DataEndpoint, Region: "us-east-1", Credentials: testCreds}

	// A live reader at NOW, before anything is put.
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live, err := cl.GetMedia(gctx, videoapi.GetMediaInput{StreamName: "cam", StartSelector: video.StartSelector{Type: "NOW"}})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	// The body goes through a pipe: chunked, read as it arrives.
	pr, pw := io.Pipe()
	go func() {
		b := fixture(t)
		for len(b) > 0 {
			n := min(len(b), 1000)
			if _, err := pw.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
		pw.Close()
	}()
	var acks []video.Ack
	err = cl.PutMedia(ctx, videoapi.PutMediaInput{StreamName: "cam", TimecodeType: "RELATIVE", ProducerStart: time.Unix(1_800_000_000, 0), Body: pr},
		func(a video.Ack) { acks = append(acks, a) })
	if err != nil {
		t.Fatal(err)
	}
	var persisted []string
	order := map[int64][]string{}
	for _, a := range acks {
		order[a.FragmentTimecode] = append(order[a.FragmentTimecode], a.EventType)
		if a.EventType == video.AckPersisted {
			persisted = append(persisted, a.FragmentNumber)
		}
	}
	if len(persisted) != 5 {
		t.Fatalf("acks %+v", acks)
	}
	for tc, evs := range order {
		if strings.Join(evs, ",") != "BUFFERING,RECEIVED,PERSISTED" {
			t.Fatalf("fragment at %d: %v", tc, evs)
		}
	}
	if acks[0].FragmentTimecode != 0 { // RELATIVE: the cluster's timecode as sent
		t.Fatalf("first timecode %d", acks[0].FragmentTimecode)
	}

	// The live reader gets all five, which ffprobe plays.
	fr := video.NewFragmentReader(live, 0)
	var got []byte
	var numbers []string
	var clusters int
	for clusters < 5 {
		el, err := fr.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch el.Kind {
		case video.KindCluster:
			clusters++
		case video.KindTags:
			for _, tg := range el.Tags.Tag {
				for _, st := range tg.SimpleTag {
					if st.TagName == video.TagFragmentNumber {
						numbers = append(numbers, st.TagString)
					}
				}
			}
		}
	}
	cancel()
	fr.Close()
	if strings.Join(numbers, ",") != strings.Join(persisted, ",") {
		t.Fatalf("live numbers %v, persisted %v", numbers, persisted)
	}

	// EARLIEST, to a file for ffprobe.
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	body, err := cl.GetMedia(rctx, videoapi.GetMediaInput{StreamName: "cam", StartSelector: video.StartSelector{Type: "EARLIEST"}})
	if err != nil {
		t.Fatal(err)
	}
	// Read until the fifth fragment's continuation token (the last tag of
	// its document) has arrived.
	last := []byte(persisted[4])
	buf := make([]byte, 4096)
	for bytes.Count(got, last) < 2 {
		n, err := body.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatal(err)
		}
	}
	rcancel()
	body.Close()
	path := filepath.Join(t.TempDir(), "out.mkv")
	if err := os.WriteFile(path, got, 0o644); err != nil {
		t.Fatal(err)
	}
	outp, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "default=nw=1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, outp)
	}
	for _, want := range []string{"codec_name=h264", "width=160", "height=120", "nb_read_frames=30"} {
		if !strings.Contains(string(outp), want) {
			t.Fatalf("ffprobe: %s (want %s)", outp, want)
		}
	}

	// FRAGMENT_NUMBER after an unknown one: the service's error tags.
	body, err = cl.GetMedia(ctx, videoapi.GetMediaInput{StreamName: "cam", StartSelector: video.StartSelector{Type: "FRAGMENT_NUMBER", AfterFragmentNumber: "12345"}})
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := io.ReadAll(body)
	body.Close()
	if !bytes.Contains(eb, []byte(video.TagErrorID)) || !bytes.Contains(eb, []byte("4000")) {
		t.Fatalf("error document %q", eb)
	}

	// Refusals before any media: an unknown stream, a missing header.
	err = cl.PutMedia(ctx, videoapi.PutMediaInput{StreamName: "nope", TimecodeType: "ABSOLUTE", Body: bytes.NewReader(fixture(t))}, func(video.Ack) {})
	var se *videoapi.ServiceError
	if !errors.As(err, &se) || se.Code != "ResourceNotFoundException" || se.Status != 404 {
		t.Fatalf("unknown stream: %v", err)
	}
	err = cl.PutMedia(ctx, videoapi.PutMediaInput{StreamName: "cam", Body: bytes.NewReader(fixture(t))}, func(video.Ack) {})
	if !errors.As(err, &se) || se.Code != "InvalidArgumentException" {
		t.Fatalf("no timecode type: %v", err)
	}
	_, err = cl.GetMedia(ctx, videoapi.GetMediaInput{StreamName: "cam", StartSelector: video.StartSelector{Type: "FRAGMENT_NUMBER"}})
	if !errors.As(err, &se) || se.Code != "InvalidArgumentException" {
		t.Fatalf("no fragment number: %v", err)
	}
	bad := &videoapi.Client{Endpoint: e.url, Region: "us-east-1", Credentials: aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "wrong"}}
	err = bad.PutMedia(ctx, videoapi.PutMediaInput{StreamName: "cam", TimecodeType: "ABSOLUTE", Body: bytes.NewReader(fixture(t))}, func(video.Ack) {})
	if !errors.As(err, &se) || se.Code != "InvalidSignatureException" {
		t.Fatalf("wrong key: %v", err)
	}
}
