-- The clickstream pipeline: generated clicks go into a stream of the
-- built-in log, a second job reads them back and delivers Parquet under
-- ./out: clicks per user per minute (TUMBLE) and trending pages (HOP).
--
--   go run ./cmd/sluice run examples/clickstream/clickstream.sql --explain
--   go run ./cmd/sluice run examples/clickstream/clickstream.sql
--
-- Two jobs, in order. A bounded read of a log stream reads each shard up
-- to its end as of the job's start, so a job that wrote and read the same
-- stream would race its own writes. As Flink's SQL client does with
-- 'table.dml-sync' = 'true', `sluice run` runs each top-level INSERT (or
-- EXECUTE STATEMENT SET) as its own job, each to its end before the next
-- starts: the first INSERT fills the stream, the statement set reads it
-- back once (its two queries share the source) and writes both outputs.
--
-- The log lives in `sluice run`'s data directory (--data-dir; by default a
-- fresh temporary one per run), so every run starts from an empty
-- `clicks` stream and a second run does not count the first run's clicks.
-- Each run adds its own objects under ./out (new names, never overwritten);
-- the summary at the end lists what this run wrote.

-- Checkpoints every 2 seconds (under the data directory): the firehose
-- tables commit their objects at each checkpoint and at the end of input,
-- so each output row is delivered exactly once, also across a restart.
SET 'execution.checkpointing.interval' = '2 s';

-- 1,000,000 clicks, one every 30 ms of event time from 2026-01-01 00:00 UTC
-- (8 h 20 min of clicks). Users and pages are derived from the sequence,
-- so the run is bounded and the same every time.
CREATE TABLE generated (
  id      BIGINT,
  user_id AS CONCAT('user-', CAST(MOD(id * 7919, 1000) AS STRING)),
  page    AS CONCAT('/page/', CAST(MOD(id * id, 97) AS STRING)),
  ts      AS TO_TIMESTAMP_LTZ(1767225600000 + id * 30, 3)
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '100000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '999999'
);

-- The stream of the built-in log, four shards, keyed by user.
CREATE TABLE clicks_out (
  user_id STRING,
  page    STRING,
  ts      TIMESTAMP_LTZ(3)
) PARTITIONED BY (user_id) WITH (
  'connector' = 'shardlog',
  'stream' = 'clicks',
  'stream.shards' = '4',
  'format' = 'json'
);

-- The same stream, read from its start to its end, with event time.
CREATE TABLE clicks (
  user_id STRING,
  page    STRING,
  ts      TIMESTAMP_LTZ(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'shardlog',
  'stream' = 'clicks',
  'format' = 'json',
  'scan.stream.initpos' = 'TRIM_HORIZON',
  'scan.bounded' = 'true'
);

CREATE TABLE clicks_per_user (
  window_start TIMESTAMP(3),
  window_end   TIMESTAMP(3),
  user_id      STRING,
  clicks       BIGINT
) WITH (
  'connector' = 'firehose',
  'destination' = 'dir',
  'path' = './out/clicks_per_user',
  'prefix' = '!{timestamp:yyyy/MM/dd/HH}/',
  'error-output-prefix' = 'errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/',
  'format' = 'parquet',
  'buffering.size' = '64 mb'
);

CREATE TABLE trending_pages (
  window_start TIMESTAMP(3),
  window_end   TIMESTAMP(3),
  page         STRING,
  page_views   BIGINT
) WITH (
  'connector' = 'firehose',
  'destination' = 'dir',
  'path' = './out/trending_pages',
  'prefix' = '!{timestamp:yyyy/MM/dd/HH}/',
  'error-output-prefix' = 'errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/',
  'format' = 'parquet',
  'buffering.size' = '64 mb'
);

-- Job 1: the clicks into the log.
INSERT INTO clicks_out SELECT user_id, page, ts FROM generated;

-- Job 2: the log back out, two windowed aggregations over one read.
EXECUTE STATEMENT SET
BEGIN
  INSERT INTO clicks_per_user
  SELECT window_start, window_end, user_id, COUNT(*)
  FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY window_start, window_end, user_id;

  INSERT INTO trending_pages
  SELECT window_start, window_end, page, COUNT(*)
  FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
  GROUP BY window_start, window_end, page;
END;
