// Package prefix implements Firehose's S3 prefix expression language:
// !{timestamp:<Java DateTimeFormatter pattern>}, !{firehose:random-string},
// !{firehose:error-output-type}, !{partitionKeyFromQuery:key} and
// !{partitionKeyFromLambda:key}, with the validation rules Firehose applies
// to a Prefix and its ErrorOutputPrefix (see Compile).
//
// Parsing happens once, at configuration time; Eval is allocation-light and
// deterministic: the instant, the error-output type, the partition key
// values and the random strings are all inputs. Expr and TimeFormat values
// are immutable and safe for concurrent use.
package prefix
