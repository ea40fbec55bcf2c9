// Package server serves a shardlog.Log over the Kinesis Data Streams wire
// protocol, so that unchanged AWS SDKs (Go, JavaScript, Java) and the AWS
// CLI work against it with only an endpoint override.
//
// Protocol: POST / with X-Amz-Target: Kinesis_20131202.<Operation> and a
// body in JSON 1.1 (application/x-amz-json-1.1) or CBOR
// (application/x-amz-cbor-1.1, the Java SDK's default; timestamps are
// epoch milliseconds there, epoch seconds in JSON). Errors are answered as
// Kinesis does: the error name in "__type", a "message", and the same HTTP
// status. SubscribeToShard answers with an AWS event stream
// (application/vnd.amazon.eventstream): an initial-response event, then
// SubscribeToShardEvent events until the subscription's 5 minutes end.
//
// Transport: HTTP/1.1, HTTP/2 over cleartext with prior knowledge (what the
// JavaScript SDK v3's Kinesis client speaks) and TLS with HTTP/2 by ALPN.
// Requests must carry an Authorization header (any SigV4 signature is
// accepted; credentials are not checked), as real clients always do.
//
// Concurrency: a *Server is safe for concurrent use; each request runs on
// its net/http goroutine. Every decoder refuses bad input with a Kinesis
// error and never panics (see the fuzz tests).
package server
