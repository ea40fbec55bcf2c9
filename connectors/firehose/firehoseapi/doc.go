// Package firehoseapi serves the Amazon Data Firehose API (JSON 1.1,
// X-Amz-Target: Firehose_20150804.<Operation>) over delivery streams that
// a Backend runs, so that unchanged AWS SDKs and the AWS CLI can create
// delivery streams and put records with only an endpoint override.
//
// # Role
//
// Everything that is the API's lives here: the request shapes and their
// validation against the service model's constraints (validate.go; all
// violations of a request in one ValidationException, as the service
// words it), the service's error names and messages, one table of
// operations (ops.go), the delivery streams' definitions with their
// statuses (CREATING → ACTIVE or CREATING_FAILED, DELETING), versions
// and tags, kept durably
// in the server's directory (registry.go), and the mapping of the API's
// destination configurations (S3, ExtendedS3, HttpEndpoint) onto
// firehose.Config (config.go).
//
// What runs a delivery stream is the Backend's (internal/service): it
// stores a DirectPut stream's records durably before PutRecord answers,
// and delivers them — or a Kinesis stream of the same server — through
// connectors/firehose.
//
// # Served operations
//
// CreateDeliveryStream (DirectPut and KinesisStreamAsSource),
// DescribeDeliveryStream, ListDeliveryStreams, DeleteDeliveryStream,
// PutRecord, PutRecordBatch (500 records, 4 MiB, 1,000 KiB a record,
// per-record failures), UpdateDestination (CurrentDeliveryStreamVersionId
// and DestinationId checked), TagDeliveryStream, UntagDeliveryStream,
// ListTagsForDeliveryStream. Other destinations and sources are refused
// with InvalidArgumentException naming them.
//
// # Authentication
//
// A request must carry a SigV4 signature (Authorization header or
// presigned query) unless Options.AllowAnonymous. Options.Authenticate
// verifies it and Options.Authorize checks the principal's policy for
// firehose:<Operation> on the delivery stream's ARN after validation;
// `sluice serve` wires both to the Kinesis API's checks
// (kinesisapi.Server.Verify and Authorize), so one credentials file
// serves both APIs.
package firehoseapi
