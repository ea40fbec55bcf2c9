//go:build tools

// Package deps pins the project's chosen dependencies in go.mod before every
// one of them is imported by real code, so that `go mod tidy` keeps the exact
// versions the project agreed on. Delete an import here once a package of the
// project imports it for real.
package deps

import (
	_ "github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/kinesis"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/cockroachdb/datadriven"
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/expr-lang/expr"
	_ "github.com/fxamacker/cbor/v2"
	_ "github.com/klauspost/compress/gzip"
	_ "github.com/parquet-go/parquet-go"
	_ "golang.org/x/sync/errgroup"
)
