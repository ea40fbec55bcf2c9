-- A job for `sluice serve`: every record of the served stream "clicks"
-- (created by examples/serve/serve.json) copied exactly once as JSON
-- lines under /tmp/sluice-job-out. Restarts: fixed delay, 3 attempts.
--
--   sluice job submit examples/serve/clicks-copy.sql

SET 'pipeline.name' = 'clicks-copy';
SET 'execution.checkpointing.interval' = '2 s';
SET 'restart-strategy.type' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.attempts' = '3';
SET 'restart-strategy.fixed-delay.delay' = '1 s';

CREATE TABLE clicks (
  user_id INT,
  page    STRING
) WITH (
  'connector' = 'shardlog', 'stream' = 'clicks', 'format' = 'json',
  'scan.stream.initpos' = 'TRIM_HORIZON'
);

CREATE TABLE clicks_copy (
  user_id INT,
  page    STRING
) WITH (
  'connector' = 'filesystem', 'path' = '/tmp/sluice-job-out', 'format' = 'json'
);

INSERT INTO clicks_copy SELECT user_id, page FROM clicks;
