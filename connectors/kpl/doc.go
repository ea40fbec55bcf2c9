// Package kpl is the Kinesis Producer Library's aggregated record format:
// many user records packed into one Kinesis record, de-aggregated again by
// the Kinesis Client Library, Firehose and Lambda's aws-kinesis-agg.
//
// # Format
//
// An aggregated record's data is the magic prefix F3 89 9A C2, then a
// protobuf (proto2) AggregatedRecord, then the MD5 of that protobuf body:
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4;
//	}
//	message Tag { required string key = 1; optional string value = 2; }
//
// The body is read and written with google.golang.org/protobuf's
// encoding/protowire: three small messages need no generated code, and the
// wire functions let the decoder keep each user record's data as a slice of
// the input and let the aggregator know an aggregate's exact size before it
// writes it.
//
// # De-aggregation
//
// Deaggregator turns one Kinesis record into its user records, each with
// its sub-sequence number (its index in the aggregate; 0 for a record that
// is not aggregated), as the KCL's UserRecord has it. A record without the
// magic prefix is simply not aggregated. A record with the prefix that is
// not a valid aggregate (too short, bad MD5, truncated or invalid protobuf,
// a key index out of range, a required field missing) is passed through
// whole as one raw record, counted, and reported to the OnCorrupt hook once
// — never dropped and never a panic.
//
// # Aggregation
//
// Aggregator packs user records per predicted shard, as the KPL does: each
// user record's hash key (its explicit hash key, else the MD5 of its
// partition key) picks a shard from the stream's hash key ranges, and an
// aggregate carries the explicit hash key of its first user record, so it
// lands on the shard all its user records map to. An aggregate holds at
// most MaxSize bytes (magic, body and MD5; default 51200, the KPL's
// AggregationMaxSize) and MaxCount user records (default 4294967295, the
// KPL's AggregationMaxCount); a user record too big to share an aggregate
// goes alone, and an aggregate of one user record is sent as that plain
// record, as the KPL does. Producer puts aggregates through a PutRecords
// function with the KPL's batching: up to 500 records or 5 MiB a request,
// sent when full or when the oldest record has waited MaxBufferedTime.
//
// # Imports
//
// Nothing of Sluice but internal/clock and internal/backoff, so that the
// log's engine connector, the Kinesis connector and Firehose can all use it.
package kpl
