package firehose

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestCoreScripts runs the buffering core's scripts in testdata/core. The
// clock is a script variable that starts at 00:00:00 and only moves
// forward. Commands:
//
//	new size=BYTES interval=D [partitions=N]   a fresh core
//	add [at=D] [keys=k:v,...] [arrival=D] data...
//	    adds one record per data word at clock time at (default: now),
//	    under the partition keys; arrival is the record's arrival time as
//	    an offset from 00:00:00 (default: now). Prints what is delivered
//	    because a buffer reached the size hint, or a refusal.
//	advance D        moves the clock, then prints the buffers due
//	drain            every buffer, as at end of input or a checkpoint
//	state            the open buffers and the next deadline
func TestCoreScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/core", func(t *testing.T, path string) {
		var c *Core
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := base
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var sb strings.Builder
			dur := func(s string) time.Duration {
				v, err := time.ParseDuration(s)
				if err != nil {
					d.Fatalf(t, "%v", err)
				}
				return v
			}
			switch d.Cmd {
			case "new":
				var size int64
				var interval time.Duration
				parts := 0
				for _, a := range d.CmdArgs {
					switch a.Key {
					case "size":
						v, err := strconv.ParseInt(a.Vals[0], 10, 64)
						if err != nil {
							d.Fatalf(t, "%v", err)
						}
						size = v
					case "interval":
						interval = dur(a.Vals[0])
					case "partitions":
						v, err := strconv.Atoi(a.Vals[0])
						if err != nil {
							d.Fatalf(t, "%v", err)
						}
						parts = v
					}
				}
				c = NewCore(size, interval, parts)
				now = base
				return "ok\n"
			case "add":
				at, arrival := now, time.Time{}
				var keys Keys
				var words []string
				for _, a := range d.CmdArgs {
					switch {
					case a.Key == "at":
						at = base.Add(dur(a.Vals[0]))
						if at.Before(now) {
							d.Fatalf(t, "the clock does not run back")
						}
						now = at
					case a.Key == "arrival":
						arrival = base.Add(dur(a.Vals[0]))
					case a.Key == "keys":
						keys.Query = map[string]string{}
						for _, kv := range strings.Split(strings.Join(a.Vals, ","), ",") {
							k, v, _ := strings.Cut(kv, ":")
							keys.Query[k] = v
						}
					default:
						words = append(words, a.Key)
					}
				}
				for _, w := range words {
					rec := Record{Data: []byte(w), ArrivalTime: arrival}
					if rec.ArrivalTime.IsZero() {
						rec.ArrivalTime = at
					}
					full, over := c.Add(at, keys, rec)
					switch {
					case over:
						fmt.Fprintf(&sb, "%s: refused, too many active partitions\n", w)
					case full != nil:
						sb.WriteString("delivered (size): ")
						writeBuffer(&sb, base, full)
					}
				}
				if sb.Len() == 0 {
					return "buffered\n"
				}
				return sb.String()
			case "advance":
				now = now.Add(dur(d.CmdArgs[0].Key))
				fmt.Fprintf(&sb, "now %s\n", now.Sub(base))
				for _, b := range c.Due(now) {
					sb.WriteString("delivered (interval): ")
					writeBuffer(&sb, base, b)
				}
				return sb.String()
			case "drain":
				for _, b := range c.Drain() {
					sb.WriteString("delivered (drain): ")
					writeBuffer(&sb, base, b)
				}
				if sb.Len() == 0 {
					return "nothing buffered\n"
				}
				return sb.String()
			case "state":
				fmt.Fprintf(&sb, "%d buffers, %d records\n", c.Active(), c.Buffered())
				if dl, ok := c.NextDeadline(); ok {
					fmt.Fprintf(&sb, "next deadline %s\n", dl.Sub(base))
				}
				return sb.String()
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}

func writeBuffer(sb *strings.Builder, base time.Time, b *Buffer) {
	if len(b.Keys.Query) > 0 {
		fmt.Fprintf(sb, "[%s] ", strings.TrimSuffix(strings.ReplaceAll(strings.ReplaceAll(b.Keys.id(), "\x00\x01", ""), "\x00", " "), "\x01"))
	}
	words := make([]string, len(b.Records))
	for i, r := range b.Records {
		words[i] = string(r.Data)
	}
	fmt.Fprintf(sb, "%s (%d bytes, opened %s, oldest %s)\n", strings.Join(words, " "), b.Bytes, b.Opened.Sub(base), b.Oldest.Sub(base))
}
