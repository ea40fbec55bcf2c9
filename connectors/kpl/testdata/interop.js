// Drives aws-kinesis-agg (AWS Labs' JavaScript implementation of the KPL
// aggregated format) for the Go interop test. Usage:
//   node interop.js aggregate|deaggregate <  input.json  > output.json
// The module is loaded from $SLUICE_KPL_AGG_DIR/node_modules.
'use strict';
const path = require('path');
const dir = process.env.SLUICE_KPL_AGG_DIR;
if (!dir) {
	console.error('SLUICE_KPL_AGG_DIR is not set');
	process.exit(2);
}
const agg = require(path.join(dir, 'node_modules', 'aws-kinesis-agg'));

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
	const req = JSON.parse(input);
	const mode = process.argv[2];
	const out = [];
	if (mode === 'aggregate') {
		// req: [{partitionKey, explicitHashKey?, data (base64)}]; one
		// aggregate per call of the callback (the module's 1 MiB limit).
		const a = new agg.RecordAggregator();
		const records = req.map((r) => {
			const rec = { partitionKey: r.partitionKey, data: Buffer.from(r.data, 'base64') };
			if (r.explicitHashKey) {
				rec.explicitHashKey = r.explicitHashKey;
			}
			return rec;
		});
		a.aggregateRecords(records, true, (err, encoded) => {
			if (err) {
				throw err;
			}
			out.push({
				partitionKey: encoded.partitionKey,
				explicitHashKey: encoded.ExplicitHashKey || '',
				data: encoded.data.toString('base64'),
			});
		});
	} else if (mode === 'deaggregate') {
		// req: [{partitionKey, sequenceNumber, data (base64)}]
		for (const r of req) {
			agg.deaggregateSync({ partitionKey: r.partitionKey, sequenceNumber: r.sequenceNumber, data: r.data }, true, (err, users) => {
				if (err) {
					out.push({ error: String(err.message || err), sequenceNumber: r.sequenceNumber });
					return;
				}
				for (const u of users) {
					out.push({
						partitionKey: u.partitionKey,
						explicitHashKey: u.explicitPartitionKey || '',
						sequenceNumber: u.sequenceNumber,
						subSequenceNumber: u.subSequenceNumber === undefined ? -1 : u.subSequenceNumber,
						data: u.data,
					});
				}
			});
		}
	} else {
		console.error('unknown mode ' + mode);
		process.exit(2);
	}
	process.stdout.write(JSON.stringify(out));
});
