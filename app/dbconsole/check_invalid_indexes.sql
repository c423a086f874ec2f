-- Invalid indexes (an interrupted CREATE INDEX CONCURRENTLY leaves one behind), and
-- the first of them schema-qualified (the schema page's anchor for its row).
SELECT count(*) AS indexes, array_agg(c.relname ORDER BY c.relname) AS names,
       (array_agg(n.nspname || '.' || c.relname ORDER BY c.relname))[1] AS first_index
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
