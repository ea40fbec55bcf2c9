package parser

import "testing"

// pipeline is a realistic 50-line SQL pipeline: a generated source, a log
// stream, two window aggregations, an anomaly table function and a
// statement set.
const pipeline = `SET 'pipeline.name' = 'clickstream';
SET 'execution.checkpointing.interval' = '10s';

CREATE TABLE clicks_gen (
  user_id BIGINT,
  page STRING,
  referrer STRING,
  ts AS LOCALTIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '1000',
  'fields.user_id.min' = '1',
  'fields.user_id.max' = '500',
  'fields.page.length' = '8'
);

CREATE TABLE clicks (
  user_id BIGINT,
  page STRING,
  referrer STRING,
  ts TIMESTAMP(3),
  arrival TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'shardlog', 'stream' = 'clicks', 'format' = 'json');

CREATE TABLE per_user (user_id BIGINT, window_start TIMESTAMP(3), clicks BIGINT)
WITH ('connector' = 'filesystem', 'path' = './out/per_user', 'format' = 'parquet');

CREATE TABLE trending (page STRING, window_end TIMESTAMP(3), hits BIGINT, users BIGINT)
WITH ('connector' = 'print');

EXECUTE STATEMENT SET BEGIN
INSERT INTO clicks SELECT user_id, page, referrer, ts FROM clicks_gen;
INSERT INTO per_user
  SELECT user_id, window_start, COUNT(*) AS clicks
  FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY user_id, window_start, window_end;
INSERT INTO trending
  SELECT page, window_end, COUNT(*) AS hits, COUNT(DISTINCT user_id) AS users
  FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '1' MINUTE))
  WHERE page NOT LIKE 'admin%' AND referrer IS NOT NULL
  GROUP BY page, window_start, window_end
  HAVING COUNT(*) > 10;
END;

SELECT * FROM TABLE(RANDOM_CUT_FOREST(
  DATA => TABLE clicks PARTITION BY page,
  NUM_TREES => 100, SAMPLE_SIZE => 256))
WHERE ANOMALY_SCORE > CAST(2.5 AS DOUBLE);
`

// BenchmarkParse parses the pipeline above; bytes/s is the figure.
func BenchmarkParse(b *testing.B) {
	if _, err := Parse(pipeline); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(pipeline)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(pipeline); err != nil {
			b.Fatal(err)
		}
	}
}
