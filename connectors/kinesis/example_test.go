package kinesis_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"

	"github.com/sluicehq/sluice/connectors/kinesis"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
	"github.com/sluicehq/sluice/engine"
)

// A job writes three records into a stream through the AWS SDK, and a
// second job reads them back, bounded. The endpoint here is Sluice's own
// wire server on 127.0.0.1; against AWS, leave Endpoint empty and use
// CredentialsAuto.
func Example() {
	dir, _ := os.MkdirTemp("", "kinesis-example")
	defer os.RemoveAll(dir)
	l, _ := shardlog.Open(shardlog.Options{Dir: dir, Sync: shardlog.SyncNone})
	defer l.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go kinesisapi.New(l, kinesisapi.Options{}).Serve(ctx, ln, nil)
	_ = l.CreateStream(shardlog.CreateStreamInput{Name: "orders", ShardCount: 2})

	client, err := kinesis.NewClient(ctx, kinesis.ClientConfig{
		Region: "us-east-1", Endpoint: "http://" + ln.Addr().String(),
		Credentials: kinesis.CredentialsBasic, AccessKeyID: "AKIDEXAMPLE", SecretKey: "secret",
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	sink, _ := kinesis.NewSink(client, kinesis.SinkOptions{Stream: "orders"}, func(s string) (kinesis.Entry, error) {
		return kinesis.Entry{PartitionKey: s, Data: []byte("order " + s)}, nil
	})
	w := engine.NewJob("write", engine.Config{})
	engine.SinkTo(engine.FromSlice(w, "orders", []string{"a", "b", "c"}, engine.NoWatermarks[string]()), "kinesis", sink)
	if err := w.Execute(ctx); err != nil {
		fmt.Println(err)
		return
	}

	src, _ := kinesis.NewSource(client, kinesis.SourceOptions{Stream: "orders", Start: kinesis.TrimHorizon, Bounded: true})
	r := engine.NewJob("read", engine.Config{Parallelism: 2})
	out := engine.Collect(engine.Map(engine.SourceOf(r, "kinesis", src, engine.NoWatermarks[kinesis.Record]()), "data",
		func(rec kinesis.Record) string { return rec.PartitionKey + ": " + string(rec.Data) }), "out")
	if err := r.Execute(ctx); err != nil {
		fmt.Println(err)
		return
	}
	got := out.Values()
	slices.Sort(got)
	for _, s := range got {
		fmt.Println(s)
	}
	// Output:
	// a: order a
	// b: order b
	// c: order c
}
