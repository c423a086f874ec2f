-- Bytes on disk (tables, indexes, TOAST) of the console history's tables.
SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes
FROM pg_class c
JOIN pg_namespace ns ON ns.oid = c.relnamespace
WHERE ns.nspname = current_schema() AND c.relkind = 'r'
  AND (c.relname LIKE 'db\_history\_%' OR c.relname IN ('db_statements', 'db_statement_sources', 'db_job_runs'))
ORDER BY bytes DESC
