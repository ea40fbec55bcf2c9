// Drives the JavaScript SDK v3 Kinesis client over HTTP/1.1 (its
// NodeHttpHandler) against the endpoint in argv[2], which verifies
// signatures, with the right key and with a wrong secret, and prints one
// JSON line of what it saw. Run by TestJavaScriptSDKAuth.
import { createRequire } from "node:module";
const require = createRequire(process.env.SLUICE_JS_SDK_DIR + "/");
const k = require("@aws-sdk/client-kinesis");
const { NodeHttpHandler } = require("@smithy/node-http-handler");

const endpoint = process.argv[2];
const client = (secretAccessKey) => new k.KinesisClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKID", secretAccessKey },
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler(),
});
const out = {};
await client("secret").send(new k.CreateStreamCommand({ StreamName: "js", ShardCount: 1 }));
const l = await client("secret").send(new k.ListStreamsCommand({}));
out.Streams = l.StreamNames;
try {
  await client("wrong").send(new k.ListStreamsCommand({}));
} catch (e) {
  out.WrongSecret = { Name: e.name, Message: e.message, Status: e.$metadata.httpStatusCode };
}
console.log(JSON.stringify(out));
