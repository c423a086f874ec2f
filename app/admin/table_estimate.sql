-- The planner's row estimate for a table (kept by ANALYZE and autovacuum): -1 when
-- it has never been analysed. Free to read, unlike counting millions of rows.
SELECT c.reltuples::bigint AS estimate
FROM pg_class c
WHERE c.oid = to_regclass(:table_name)
