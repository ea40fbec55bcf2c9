package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Config addresses a bucket. It is plain data (serialisable).
type Config struct {
	Bucket string `json:"bucket"`
	// Endpoint is the base URL of an S3-compatible server
	// (e.g. http://127.0.0.1:9000); empty means AWS.
	Endpoint string `json:"endpoint,omitempty"`
	// Region (default us-east-1, or the AWS chain's).
	Region string `json:"region,omitempty"`
	// UsePathStyle addresses objects as endpoint/bucket/key instead of
	// bucket.endpoint/key (needed by most self-hosted servers).
	UsePathStyle bool `json:"use_path_style,omitempty"`
	// Static credentials; when AccessKeyID is empty the usual AWS chain
	// (environment, shared config, IMDS, ...) is used.
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	SessionToken    string `json:"session_token,omitempty"`
	// PartSizeBytes is the multipart part size (default 16 MiB, minimum
	// 5 MiB as S3 requires for all parts but the last).
	PartSizeBytes int64 `json:"part_size_bytes,omitempty"`
	// MultipartThresholdBytes: objects at least this large are uploaded
	// in parts by Put (default: PartSizeBytes).
	MultipartThresholdBytes int64 `json:"multipart_threshold_bytes,omitempty"`
}

// Defaults.
const (
	DefaultPartSize = 16 << 20
	MinPartSize     = 5 << 20
)

// Validate checks c.
func (c *Config) Validate() error {
	if c.Bucket == "" {
		return errors.New("s3: Bucket is required")
	}
	if c.PartSizeBytes != 0 && c.PartSizeBytes < MinPartSize {
		return fmt.Errorf("s3: PartSizeBytes %d is below S3's minimum of 5 MiB", c.PartSizeBytes)
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("s3: AccessKeyID and SecretAccessKey go together")
	}
	return nil
}

// Bucket is one bucket through one SDK client.
type Bucket struct {
	cfg    Config
	Client *s3.Client
}

// Open builds a client for cfg. It does not contact the server.
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PartSizeBytes == 0 {
		cfg.PartSizeBytes = DefaultPartSize
	}
	if cfg.MultipartThresholdBytes == 0 {
		cfg.MultipartThresholdBytes = cfg.PartSizeBytes
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS config: %w", err)
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	client := s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.UsePathStyle
		// Servers that return no checksum (MinIO on plain GETs) would log
		// a warning per read.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &Bucket{cfg: cfg, Client: client}, nil
}

// Name returns the bucket name.
func (b *Bucket) Name() string { return b.cfg.Bucket }

// Config returns the bucket's configuration with defaults applied.
func (b *Bucket) Config() Config { return b.cfg }

// CreateBucket creates the bucket if it does not exist.
func (b *Bucket) CreateBucket(ctx context.Context) error {
	_, err := b.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.cfg.Bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("s3: create bucket %s: %w", b.cfg.Bucket, err)
	}
	return nil
}

// Part is a completed part of a multipart upload.
type Part struct {
	Number int32  `json:"n"`
	ETag   string `json:"etag"`
}

// Upload is a multipart upload in progress: invisible until completed.
type Upload struct {
	Key      string `json:"key"`
	UploadID string `json:"upload_id"`
	Parts    []Part `json:"parts,omitempty"`
}

// Put writes an object: one PUT below the multipart threshold, else a
// multipart upload completed at once.
func (b *Bucket) Put(ctx context.Context, key string, body []byte) error {
	if int64(len(body)) < b.cfg.MultipartThresholdBytes {
		_, err := b.Client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key),
			Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		})
		if err != nil {
			return fmt.Errorf("s3: put %s: %w", key, err)
		}
		return nil
	}
	u, err := b.Stage(ctx, key, body)
	if err != nil {
		return err
	}
	if err := b.Complete(ctx, u); err != nil {
		return errors.Join(err, b.Abort(context.WithoutCancel(ctx), u))
	}
	return nil
}

// Stage uploads body as the parts of a new multipart upload and leaves it
// uncompleted: the object is not visible until Complete.
func (b *Bucket) Stage(ctx context.Context, key string, body []byte) (Upload, error) {
	u, err := b.Begin(ctx, key)
	if err != nil {
		return Upload{}, err
	}
	for off := int64(0); off < int64(len(body)) || len(u.Parts) == 0; {
		end := min(off+b.cfg.PartSizeBytes, int64(len(body)))
		if err := b.UploadPart(ctx, &u, body[off:end]); err != nil {
			return u, errors.Join(err, b.Abort(context.WithoutCancel(ctx), u))
		}
		off = end
	}
	return u, nil
}

// PartSize is the size of every part but the last that Stage uploads:
// a writer that streams an object through Begin and UploadPart sends
// parts of this size (S3 refuses parts below 5 MiB but the last).
func (b *Bucket) PartSize() int64 { return b.cfg.PartSizeBytes }

// Begin starts a multipart upload of key with no parts: add them with
// UploadPart, then Complete or Abort it.
func (b *Bucket) Begin(ctx context.Context, key string) (Upload, error) {
	out, err := b.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key),
	})
	if err != nil {
		return Upload{}, fmt.Errorf("s3: create multipart upload %s: %w", key, err)
	}
	return Upload{Key: key, UploadID: aws.ToString(out.UploadId)}, nil
}

// UploadPart uploads body as the next part of u and records it in
// u.Parts. Every part but the last must be at least 5 MiB.
func (b *Bucket) UploadPart(ctx context.Context, u *Upload, body []byte) error {
	n := int32(len(u.Parts) + 1)
	po, err := b.Client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(b.cfg.Bucket), Key: aws.String(u.Key), UploadId: aws.String(u.UploadID),
		PartNumber: aws.Int32(n), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		return fmt.Errorf("s3: upload part %d of %s: %w", n, u.Key, err)
	}
	u.Parts = append(u.Parts, Part{Number: n, ETag: aws.ToString(po.ETag)})
	return nil
}

// Complete makes a staged upload visible. When u has no parts recorded
// they are listed from the server. Completing an upload that is already
// complete (the key exists and the upload is gone) succeeds, so a commit
// can be retried after a crash.
func (b *Bucket) Complete(ctx context.Context, u Upload) error {
	parts := u.Parts
	if len(parts) == 0 {
		var err error
		if parts, err = b.listParts(ctx, u); err != nil {
			if isNoSuchUpload(err) && b.exists(ctx, u.Key) {
				return nil
			}
			return err
		}
	}
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
	}
	_, err := b.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.cfg.Bucket), Key: aws.String(u.Key), UploadId: aws.String(u.UploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cp},
	})
	if err == nil {
		return nil
	}
	// The parts are ours, so a server that no longer finds the upload or
	// one of its parts may have completed it already.
	if (isNoSuchUpload(err) || apiErrorCode(err) == "InvalidPart") && b.exists(ctx, u.Key) {
		return nil
	}
	return fmt.Errorf("s3: complete %s: %w", u.Key, err)
}

func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Abort discards a staged upload; aborting one that is gone succeeds.
func (b *Bucket) Abort(ctx context.Context, u Upload) error {
	_, err := b.Client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(b.cfg.Bucket), Key: aws.String(u.Key), UploadId: aws.String(u.UploadID),
	})
	if err != nil && !isNoSuchUpload(err) {
		return fmt.Errorf("s3: abort %s: %w", u.Key, err)
	}
	return nil
}

// ListUploads returns the uncompleted multipart uploads under prefix.
// MinIO lists uploads only for an exact object key, so with MinIO pass the
// full key (AWS S3 accepts any prefix); staged handles recorded in
// checkpoints do not depend on listing.
func (b *Bucket) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	var out []Upload
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(b.cfg.Bucket), Prefix: aws.String(prefix)}
	for {
		page, err := b.Client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("s3: list multipart uploads: %w", err)
		}
		for _, u := range page.Uploads {
			out = append(out, Upload{Key: aws.ToString(u.Key), UploadID: aws.ToString(u.UploadId)})
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

func (b *Bucket) listParts(ctx context.Context, u Upload) ([]Part, error) {
	var parts []Part
	in := &s3.ListPartsInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(u.Key), UploadId: aws.String(u.UploadID)}
	for {
		page, err := b.Client.ListParts(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("s3: list parts of %s: %w", u.Key, err)
		}
		for _, p := range page.Parts {
			parts = append(parts, Part{Number: aws.ToInt32(p.PartNumber), ETag: aws.ToString(p.ETag)})
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.PartNumberMarker = page.NextPartNumberMarker
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// List returns the keys under prefix, in order.
func (b *Bucket) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(b.Client, &s3.ListObjectsV2Input{Bucket: aws.String(b.cfg.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3: list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// ErrNoSuchKey is wrapped by Get when the object does not exist.
var ErrNoSuchKey = errors.New("s3: no such key")

// Get reads a whole object. A missing object gives an error wrapping
// ErrNoSuchKey.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := b.Download(ctx, key, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Download copies an object to w and returns its size, without holding
// it in memory. A missing object gives an error wrapping ErrNoSuchKey.
func (b *Bucket) Download(ctx context.Context, key string, w io.Writer) (int64, error) {
	out, err := b.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			return 0, fmt.Errorf("s3: get %s: %w: %w", key, ErrNoSuchKey, err)
		}
		return 0, fmt.Errorf("s3: get %s: %w", key, err)
	}
	defer out.Body.Close()
	n, err := io.Copy(w, out.Body)
	if err != nil {
		return n, fmt.Errorf("s3: read %s: %w", key, err)
	}
	return n, nil
}

// Delete removes an object; deleting a missing object succeeds (S3's
// DeleteObject is idempotent).
func (b *Bucket) Delete(ctx context.Context, key string) error {
	_, err := b.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("s3: delete %s: %w", key, err)
	}
	return nil
}

func (b *Bucket) exists(ctx context.Context, key string) bool {
	_, err := b.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)})
	return err == nil
}

func isNoSuchUpload(err error) bool {
	var nsu *types.NoSuchUpload
	if errors.As(err, &nsu) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && strings.EqualFold(ae.ErrorCode(), "NoSuchUpload")
}
