package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	kvtypes "github.com/aws/aws-sdk-go-v2/service/kinesisvideo/types"

	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/videoapi"
)

func init() {
	registerGroup("video", "Kinesis Video Streams of 'sluice serve': create, put, get, describe, list, delete", []*command{
		{"create", "create a video stream: sluice video create STREAM [--retention HOURS] [--media-type T]", clientErrors(videoCreate)},
		{"put", "send a Matroska file with PutMedia, one fragment per cluster: sluice video put STREAM FILE", clientErrors(videoPut)},
		{"get", "read fragments with GetMedia into a Matroska file: sluice video get STREAM --out FILE [--start EARLIEST] [--fragments N]", clientErrors(videoGet)},
		{"describe", "describe a video stream", clientErrors(videoDescribe)},
		{"list", "list the video streams", clientErrors(videoList)},
		{"delete", "delete a video stream and its fragments", clientErrors(videoDelete)},
	})
}

// videoFlags are the flags of every video command: the endpoint of `sluice
// serve` and the region.
type videoFlags struct {
	endpoint, region *string
}

func newVideoFlags(fs *flag.FlagSet) videoFlags {
	def := os.Getenv("SLUICE_VIDEO_ENDPOINT")
	if def == "" {
		def = "http://127.0.0.1:4567"
	}
	return videoFlags{
		endpoint: fs.String("endpoint", def, "endpoint of 'sluice serve' ($SLUICE_VIDEO_ENDPOINT)"),
		region:   fs.String("region", "us-east-1", "region"),
	}
}

func (f videoFlags) control() *kinesisvideo.Client {
	return kinesisvideo.New(kinesisvideo.Options{Region: *f.region, BaseEndpoint: aws.String(*f.endpoint), Credentials: clientCredentials()})
}

// media returns a client of the stream's data endpoint (GetDataEndpoint).
func (f videoFlags) media(ctx context.Context, stream string, api kvtypes.APIName) (*videoapi.Client, error) {
	ep, err := f.control().GetDataEndpoint(ctx, &kinesisvideo.GetDataEndpointInput{StreamName: aws.String(stream), APIName: api})
	if err != nil {
		return nil, err
	}
	creds, err := clientCredentials().Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	return &videoapi.Client{Endpoint: *ep.DataEndpoint, Region: *f.region, Credentials: creds, HTTP: &http.Client{}}, nil
}

// videoArgs parses flags anywhere among the arguments and wants n
// positional ones.
func videoArgs(fs *flag.FlagSet, args []string, n int, usage string) ([]string, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != n {
		return nil, usageError("%s", usage)
	}
	return pos, nil
}

func videoCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("video create", stderr)
	vf := newVideoFlags(fs)
	retention := fs.Int("retention", 24, "data retention in hours (0: fragments are not persisted)")
	mediaType := fs.String("media-type", "video/h264", "media type")
	a, err := videoArgs(fs, args, 1, "sluice video create STREAM [--retention HOURS]")
	if err != nil {
		return err
	}
	out, err := vf.control().CreateStream(ctx, &kinesisvideo.CreateStreamInput{
		StreamName: aws.String(a[0]), DataRetentionInHours: aws.Int32(int32(*retention)), MediaType: aws.String(*mediaType),
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, *out.StreamARN)
	return nil
}

func videoPut(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("video put", stderr)
	vf := newVideoFlags(fs)
	relative := fs.Bool("relative", true, "the file's timecodes are relative to now (else absolute)")
	a, err := videoArgs(fs, args, 2, "sluice video put STREAM FILE")
	if err != nil {
		return err
	}
	f, err := os.Open(a[1])
	if err != nil {
		return err
	}
	defer f.Close()
	cl, err := vf.media(ctx, a[0], kvtypes.APINamePutMedia)
	if err != nil {
		return err
	}
	in := videoapi.PutMediaInput{StreamName: a[0], TimecodeType: "ABSOLUTE", Body: f}
	if *relative {
		in.TimecodeType, in.ProducerStart = "RELATIVE", time.Now()
	}
	persisted, failed := 0, false
	err = cl.PutMedia(ctx, in, func(ack video.Ack) {
		switch ack.EventType {
		case video.AckPersisted:
			persisted++
			fmt.Fprintf(stdout, "PERSISTED %s (timecode %d)\n", ack.FragmentNumber, ack.FragmentTimecode)
		case video.AckError:
			failed = true
			fmt.Fprintf(stdout, "ERROR %d %s (timecode %d)\n", ack.ErrorID, ack.ErrorCode, ack.FragmentTimecode)
		}
	})
	if err != nil {
		return err
	}
	if failed {
		return fmt.Errorf("PutMedia stopped at an error after %d fragments", persisted)
	}
	fmt.Fprintf(stdout, "%d fragments persisted\n", persisted)
	return nil
}

func videoGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("video get", stderr)
	vf := newVideoFlags(fs)
	out := fs.String("out", "", "Matroska file to write (required)")
	start := fs.String("start", "EARLIEST", "start selector: EARLIEST, NOW, FRAGMENT_NUMBER (--after), CONTINUATION_TOKEN (--after)")
	after := fs.String("after", "", "fragment number or continuation token to start after")
	n := fs.Int("fragments", 0, "stop after this many fragments (0: when none has come for --idle)")
	idle := fs.Duration("idle", 2*time.Second, "with no --fragments: stop when no fragment has come for this long")
	a, err := videoArgs(fs, args, 1, "sluice video get STREAM --out FILE")
	if err != nil {
		return err
	}
	if *out == "" {
		return usageError("--out FILE is required")
	}
	cl, err := vf.media(ctx, a[0], kvtypes.APINameGetMedia)
	if err != nil {
		return err
	}
	sel := video.StartSelector{Type: *start, AfterFragmentNumber: *after, ContinuationToken: *after}
	if *start != "CONTINUATION_TOKEN" {
		sel.ContinuationToken = ""
	}
	if *start != "FRAGMENT_NUMBER" {
		sel.AfterFragmentNumber = ""
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, err := cl.GetMedia(gctx, videoapi.GetMediaInput{StreamName: a[0], StartSelector: sel})
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	// The answer is copied as it comes while the reader counts fragments:
	// it ends at --fragments, or, without a count, once none has come for
	// --idle (GetMedia itself never ends: it waits for new fragments).
	fr := video.NewFragmentReader(io.TeeReader(body, f), 0)
	defer fr.Close()
	var timer *time.Timer
	idled := make(chan struct{})
	if *n == 0 {
		timer = time.AfterFunc(*idle, func() { close(idled); cancel() })
		defer timer.Stop()
	}
	count := 0
	for *n == 0 || count < *n {
		el, err := fr.Next()
		if err != nil {
			select {
			case <-idled:
				err = nil
			default:
			}
			if err == nil {
				break
			}
			f.Close()
			return fmt.Errorf("GetMedia: %w", err)
		}
		if el.Kind != video.KindTags {
			continue
		}
		for _, t := range el.Tags.Tag {
			for _, st := range t.SimpleTag {
				switch st.TagName {
				case video.TagErrorCode:
					f.Close()
					return fmt.Errorf("GetMedia: %s", st.TagString)
				case video.TagContinuationToken:
					// The last tag of a fragment's document: it is whole.
					count++
					if timer != nil {
						timer.Reset(*idle)
					}
				}
			}
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d fragments written to %s\n", count, *out)
	return nil
}

func videoDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("video describe", stderr)
	vf := newVideoFlags(fs)
	a, err := videoArgs(fs, args, 1, "sluice video describe STREAM")
	if err != nil {
		return err
	}
	d, err := vf.control().DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{StreamName: aws.String(a[0])})
	if err != nil {
		return err
	}
	si := d.StreamInfo
	fmt.Fprintf(stdout, "%s %s %s retention=%dh media=%s version=%s created=%s\n", *si.StreamName, si.Status, *si.StreamARN,
		aws.ToInt32(si.DataRetentionInHours), aws.ToString(si.MediaType), aws.ToString(si.Version), si.CreationTime.UTC().Format(time.RFC3339))
	return nil
}

func videoList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("video list", stderr)
	vf := newVideoFlags(fs)
	if _, err := videoArgs(fs, args, 0, "sluice video list"); err != nil {
		return err
	}
	p := kinesisvideo.NewListStreamsPaginator(vf.control(), &kinesisvideo.ListStreamsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, s := range page.StreamInfoList {
			fmt.Fprintf(stdout, "%s %s retention=%dh\n", *s.StreamName, s.Status, aws.ToInt32(s.DataRetentionInHours))
		}
	}
	return nil
}

func videoDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("video delete", stderr)
	vf := newVideoFlags(fs)
	a, err := videoArgs(fs, args, 1, "sluice video delete STREAM")
	if err != nil {
		return err
	}
	c := vf.control()
	d, err := c.DescribeStream(ctx, &kinesisvideo.DescribeStreamInput{StreamName: aws.String(a[0])})
	if err != nil {
		return err
	}
	if _, err := c.DeleteStream(ctx, &kinesisvideo.DeleteStreamInput{StreamARN: d.StreamInfo.StreamARN, CurrentVersion: d.StreamInfo.Version}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted %s\n", a[0])
	return nil
}
