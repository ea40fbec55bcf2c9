// Drives the JavaScript SDK v3 Kinesis client (its default HTTP/2 handler,
// so cleartext HTTP/2 with prior knowledge) against the endpoint in argv[2],
// which verifies signatures, and prints one JSON line of what it saw. Run by TestJavaScriptSDK.
import { createRequire } from "node:module";
const require = createRequire(process.env.SLUICE_JS_SDK_DIR + "/");
const k = require("@aws-sdk/client-kinesis");

const endpoint = process.argv[2];
const client = new k.KinesisClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
  maxAttempts: 1,
});
const out = {};
const S = "js";

await client.send(new k.CreateStreamCommand({ StreamName: S, ShardCount: 2 }));
await k.waitUntilStreamExists({ client, maxWaitTime: 20, minDelay: 1 }, { StreamName: S });
const d = await client.send(new k.DescribeStreamCommand({ StreamName: S }));
out.status = d.StreamDescription.StreamStatus;
out.shards = d.StreamDescription.Shards.map((s) => s.ShardId);
out.created = d.StreamDescription.StreamCreationTimestamp instanceof Date;

const p = await client.send(new k.PutRecordCommand({ StreamName: S, PartitionKey: "a", Data: new TextEncoder().encode("hello") }));
out.putShard = p.ShardId;
out.putSeq = p.SequenceNumber;
const recs = [];
for (let i = 0; i < 10; i++) recs.push({ PartitionKey: "a", Data: new TextEncoder().encode("r" + i) });
const pr = await client.send(new k.PutRecordsCommand({ StreamName: S, Records: recs }));
out.failed = pr.FailedRecordCount;

const it = await client.send(new k.GetShardIteratorCommand({ StreamName: S, ShardId: p.ShardId, ShardIteratorType: "TRIM_HORIZON" }));
const gr = await client.send(new k.GetRecordsCommand({ ShardIterator: it.ShardIterator }));
out.got = gr.Records.map((r) => new TextDecoder().decode(r.Data));
out.arrivalIsDate = gr.Records[0].ApproximateArrivalTimestamp instanceof Date;
out.behind = gr.MillisBehindLatest;

const ls = await client.send(new k.ListShardsCommand({ StreamName: S, MaxResults: 1 }));
out.listShardsPage = ls.Shards.length;
out.hasNextToken = typeof ls.NextToken === "string";

// A wrong secret over HTTP/2 (the server verifies signatures).
const wrong = new k.KinesisClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKID", secretAccessKey: "wrong" },
  maxAttempts: 1,
});
try {
  await wrong.send(new k.ListStreamsCommand({}));
} catch (e) {
  out.wrongSecret = { name: e.name, message: e.message, status: e.$metadata.httpStatusCode };
}
wrong.destroy();

try {
  await client.send(new k.DescribeStreamCommand({ StreamName: "missing" }));
} catch (e) {
  out.notFound = { name: e.name, message: e.message, status: e.$metadata.httpStatusCode, isClass: e instanceof k.ResourceNotFoundException };
}
try {
  await client.send(new k.PutRecordCommand({ StreamName: S, PartitionKey: "a", Data: new TextEncoder().encode("x"), ExplicitHashKey: "340282366920938463463374607431768211456" }));
} catch (e) {
  out.badHashKey = e.name;
}
try {
  await client.send(new k.GetRecordsCommand({ ShardIterator: "bogus-iterator" }));
} catch (e) {
  out.badIterator = e.name;
}

// Enhanced fan-out over the event stream.
const arn = d.StreamDescription.StreamARN;
const reg = await client.send(new k.RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: "jsapp" }));
const sub = await client.send(new k.SubscribeToShardCommand({
  ConsumerARN: reg.Consumer.ConsumerARN, ShardId: p.ShardId, StartingPosition: { Type: "LATEST" },
}));
const pushed = [];
setTimeout(() => {
  client.send(new k.PutRecordCommand({ StreamName: S, PartitionKey: "a", Data: new TextEncoder().encode("pushed") }));
}, 200);
const timer = setTimeout(() => { out.subscribeTimeout = true; console.log(JSON.stringify(out)); process.exit(1); }, 10000);
for await (const ev of sub.EventStream) {
  if (ev.SubscribeToShardEvent) {
    for (const r of ev.SubscribeToShardEvent.Records) pushed.push(new TextDecoder().decode(r.Data));
    out.continuation = ev.SubscribeToShardEvent.ContinuationSequenceNumber;
    if (pushed.length > 0) break;
  }
}
clearTimeout(timer);
out.pushed = pushed;
await client.send(new k.DeregisterStreamConsumerCommand({ ConsumerARN: reg.Consumer.ConsumerARN }));
await client.send(new k.DeleteStreamCommand({ StreamName: S, EnforceConsumerDeletion: true }));
console.log(JSON.stringify(out));
client.destroy();
process.exit(0);
