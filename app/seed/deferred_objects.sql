-- Secondary indexes, unique constraints and foreign keys touching the seeded tables.
-- The bulk load drops them and rebuilds them afterwards (as pg_restore does): one
-- sorted index build and one join per foreign key beat millions of per-row checks.
-- step orders the rebuild: indexes, then unique constraints, then foreign keys.
SELECT 1 AS step, 'index' AS kind, n.nspname AS schema_name, t.relname AS table_name,
       i.relname AS object_name, pg_get_indexdef(x.indexrelid) AS definition
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE x.indrelid = ANY (%(tables)s::regclass[])
  AND NOT EXISTS (
      SELECT 1 FROM pg_constraint c
      WHERE c.conindid = x.indexrelid AND c.contype IN ('p', 'u', 'x'))
UNION ALL
SELECT CASE c.contype WHEN 'u' THEN 2 ELSE 3 END, 'constraint', n.nspname, t.relname,
       c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE (c.contype = 'u' AND c.conrelid = ANY (%(tables)s::regclass[]))
   OR (c.contype = 'f' AND (c.conrelid = ANY (%(tables)s::regclass[])
                            OR c.confrelid = ANY (%(tables)s::regclass[])))
ORDER BY step, table_name, object_name
