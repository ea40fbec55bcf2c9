// Package kinesisapi serves a shardlog.Log over the Kinesis Data Streams
// wire protocol, so that unchanged AWS SDKs (Go, JavaScript, Java) and the
// AWS CLI work against it with only an endpoint override.
//
// # Role
//
// Everything that is Kinesis's and not the log's lives here: the request
// shapes and their validation (each input's members and constraints —
// patterns, lengths, ranges, enums — checked in one place, validate.go,
// and reported as one "N validation errors detected: ..." message), every
// service message a client sees (messages.go renders them from the log's
// typed refusals, shardlog.Error, and their facts), the encoding of shard
// iterators and NextTokens, the JSON and CBOR codecs, the event stream of
// SubscribeToShard, and the acceptance of signed requests. The operations
// are one table (ops.go): each names its input type, that input's
// constraints and the function from input to output, and one path decodes,
// checks, calls and encodes for all of them.
//
// # Protocol
//
// POST / with X-Amz-Target: Kinesis_20131202.<Operation> and a body in
// JSON 1.1 (application/x-amz-json-1.1) or CBOR
// (application/x-amz-cbor-1.1, the Java SDK's default; timestamps are
// epoch milliseconds there, epoch seconds in JSON). Errors are answered as
// Kinesis does: the error name in "__type", a "message" ("Message" for a
// SerializationException, none for UnknownOperationException), and the
// same HTTP status; operations without output answer an empty body. The
// front of the protocol follows the service too: CORS (Origin, OPTIONS
// preflight), 403 with an XML AccessDeniedException for a method other
// than POST, 404 <UnknownOperationException/> for an unknown content
// type, the error name alone for a request with no body, and an unsigned
// request checked only once it is routable (400). GET /healthz is this
// server's own. SubscribeToShard answers with an AWS event stream
// (application/vnd.amazon.eventstream): an initial-response event, then
// SubscribeToShardEvent events until the subscription's 5 minutes end.
//
// Transport: HTTP/1.1, HTTP/2 over cleartext with prior knowledge (what the
// JavaScript SDK v3's Kinesis client speaks) and TLS with HTTP/2 by ALPN.
//
// # Authentication and permissions
//
// With Options.Credentials every request's SigV4 signature (Authorization
// header or presigned query string; SubscribeToShard included) is verified
// with the AWS SDK's own signer over the request as received, the body's
// hash included, within the service's 5-minute clock-skew window (or a
// presigned URL's X-Amz-Expires); refusals are the service's
// (MissingAuthenticationToken, IncompleteSignature, InvalidSignature,
// UnrecognizedClient), auth.go. Each principal may carry an IAM-like
// identity policy (policy.go): the operation's action kinesis:<Name> on
// its resource (the stream's ARN, the consumer's, "*" for ListStreams and
// DescribeLimits, one table) is allowed, denied, or denied explicitly,
// answered with the service's AccessDeniedException after the input is
// validated. Without credentials a request must still carry a signature,
// which is not checked (embedded and development use); AllowAnonymous
// turns authentication off.
//
// # Imports
//
// The log (connectors/shardlog), the standard library, a CBOR codec and
// the AWS SDK's SigV4 signer; never the engine, the state package or Pebble (a test checks this with
// go list -deps), so the wire server builds and links small.
//
// # Concurrency
//
// A *Server is safe for concurrent use; each request runs on its net/http
// goroutine and the Log serializes what it must. A subscription holds its
// request's goroutine and one helper goroutine that ends it when the
// server stops. Every decoder refuses bad input with a Kinesis error and
// never panics (see the fuzz tests).
package kinesisapi
