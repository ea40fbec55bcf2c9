// Drives the JavaScript SDK v3 Firehose client against the endpoint in
// argv[2] and prints one JSON line of what it saw. Run by
// TestJavaScriptSDK (internal/service).
import { createRequire } from "node:module";
const require = createRequire(process.env.SLUICE_FIREHOSE_JS_DIR + "/");
const f = require("@aws-sdk/client-firehose");

const client = new f.FirehoseClient({
  endpoint: process.argv[2],
  region: "us-east-1",
  credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
  maxAttempts: 1,
});
const enc = (s) => new TextEncoder().encode(s);
const out = {};

await client.send(new f.CreateDeliveryStreamCommand({
  DeliveryStreamName: "js",
  ExtendedS3DestinationConfiguration: {
    RoleARN: "arn:aws:iam::000000000000:role/firehose",
    BucketARN: "arn:aws:s3:::jsbucket",
    BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 1 },
  },
}));
for (let i = 0; i < 100; i++) {
  const d = await client.send(new f.DescribeDeliveryStreamCommand({ DeliveryStreamName: "js" }));
  out.status = d.DeliveryStreamDescription.DeliveryStreamStatus;
  out.created = d.DeliveryStreamDescription.CreateTimestamp instanceof Date;
  if (out.status === "ACTIVE") break;
  await new Promise((r) => setTimeout(r, 20));
}
const p = await client.send(new f.PutRecordCommand({ DeliveryStreamName: "js", Record: { Data: enc("js-one\n") } }));
out.recordId = p.RecordId;
const b = await client.send(new f.PutRecordBatchCommand({
  DeliveryStreamName: "js",
  Records: [{ Data: enc("js-a\n") }, { Data: enc("js-b\n") }],
}));
out.failed = b.FailedPutCount;
out.responses = b.RequestResponses.length;
const l = await client.send(new f.ListDeliveryStreamsCommand({}));
out.names = l.DeliveryStreamNames;
try {
  await client.send(new f.PutRecordCommand({ DeliveryStreamName: "missing", Record: { Data: enc("x") } }));
} catch (e) {
  out.notFound = { name: e.name, message: e.message, status: e.$metadata.httpStatusCode, isClass: e instanceof f.ResourceNotFoundException };
}
try {
  await client.send(new f.CreateDeliveryStreamCommand({ DeliveryStreamName: "bad name" }));
} catch (e) {
  out.invalid = { name: e.name, message: e.message };
}
console.log(JSON.stringify(out));
