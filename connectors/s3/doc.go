// Package s3 is Sluice's thin layer over the AWS SDK's S3 client
// (github.com/aws/aws-sdk-go-v2/service/s3): building a client for any
// S3-compatible endpoint (path-style option, static credentials or the
// usual AWS credential chain), and the object operations the delivery
// sinks need — single PUTs, multipart uploads that can be left staged,
// found again, completed or aborted by another process, listing and
// reading.
//
// A Bucket is safe for concurrent use (the SDK client is). Every method
// blocks until S3 answers or ctx is done; request bodies are seekable
// (bytes.Reader) so that the SDK can retry and sign them.
//
// Complete is idempotent: completing an upload again succeeds when its
// object exists. Do not cancel a Complete midway if you can help it:
// MinIO (checked with the pinned CI version) can leave an upload whose
// completion was cancelled by its client without its parts and without
// the object, and that upload can then neither be completed nor read.
package s3
