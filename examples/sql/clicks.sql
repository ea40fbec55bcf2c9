-- Clicks per user per 10 seconds of event time, from generated clicks,
-- written exactly once as JSON lines under /tmp/sluice-sql-out.
--
--   sluice run examples/sql/clicks.sql --explain   (the plan and the job)
--   sluice run examples/sql/clicks.sql             (run it)

CREATE TABLE clicks (
  id      BIGINT,
  user_id INT,
  page    INT,
  ts AS TO_TIMESTAMP_LTZ(id * 50, 3),           -- 20 clicks a second of event time
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '100000',
  'rows-per-second' = '50000',                   -- Flink's datagen default is 10000
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '99999',
  'fields.user_id.min' = '1', 'fields.user_id.max' = '50',
  'fields.page.min' = '1', 'fields.page.max' = '20'
);

CREATE TABLE clicks_per_user (
  window_start TIMESTAMP(3),
  window_end   TIMESTAMP(3),
  user_id      INT,
  clicks       BIGINT,
  pages        BIGINT
) WITH (
  'connector' = 'filesystem',
  'path' = '/tmp/sluice-sql-out',
  'format' = 'json'
);

INSERT INTO clicks_per_user
SELECT window_start, window_end, user_id, COUNT(*), COUNT(*) FILTER (WHERE page <= 5)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
