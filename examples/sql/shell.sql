-- Statements for `sluice sql -f examples/sql/shell.sql`, or to type into
-- `sluice sql`: a table, what it holds, a query's result table.
CREATE TABLE orders (
  id     BIGINT,
  amount INT,
  ts     AS TO_TIMESTAMP_LTZ(id * 1000, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
  'connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5',
  'fields.amount.min' = '1', 'fields.amount.max' = '100'
);
SHOW TABLES;
DESCRIBE orders;
SELECT id, amount * 2 AS doubled, ts FROM orders WHERE id > 2;
