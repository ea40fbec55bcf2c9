package shardconn_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
	"github.com/sluicehq/sluice/engine"
)

// ExampleNewSource writes a stream with the sink in one job and reads it
// back with the source in another: a bounded read of what the stream holds,
// keyed by partition key, each key's records in order.
func ExampleNewSource() {
	dir, _ := os.MkdirTemp("", "shardlog-example-")
	defer os.RemoveAll(dir)
	l, err := shardlog.Open(shardlog.Options{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx := context.Background()
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "events", ShardCount: 3}); err != nil {
		fmt.Println(err)
		return
	}
	stream := shardlog.StreamRef{Name: "events"}

	// Put 12 events: "user-<i%3>:<i>", partitioned by user.
	put, _ := shardconn.NewSink(l, shardconn.SinkOptions{Stream: stream}, func(i int, buf []byte) (shardlog.PutEntry, error) {
		user := "user-" + strconv.Itoa(i%3)
		return shardlog.PutEntry{PartitionKey: user, Data: strconv.AppendInt(append(buf, user+":"...), int64(i), 10)}, nil
	})
	pj := engine.NewJob("put", engine.Config{})
	engine.SinkTo(engine.FromSlice(pj, "numbers", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, engine.NoWatermarks[int]()), "log", put)
	if err := pj.Execute(ctx); err != nil {
		fmt.Println(err)
		return
	}

	// Read everything the stream holds, at parallelism 2.
	src, _ := shardconn.NewSource(l, shardconn.SourceOptions{Stream: stream, Bounded: true})
	rj := engine.NewJob("read", engine.Config{Parallelism: 2})
	recs := engine.SourceOf(rj, "log", src, engine.SourceTimestamps[shardconn.SourceRecord](0))
	out := engine.Collect(recs, "out")
	if err := rj.Execute(ctx); err != nil {
		fmt.Println(err)
		return
	}
	byUser := map[string][]string{}
	for _, r := range out.Values() {
		byUser[r.PartitionKey] = append(byUser[r.PartitionKey], string(r.Data))
	}
	users := make([]string, 0, len(byUser))
	for u := range byUser {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		fmt.Println(byUser[u])
	}
	// Output:
	// [user-0:0 user-0:3 user-0:6 user-0:9]
	// [user-1:1 user-1:4 user-1:7 user-1:10]
	// [user-2:2 user-2:5 user-2:8 user-2:11]
}
