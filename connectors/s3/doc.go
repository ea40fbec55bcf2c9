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
package s3
