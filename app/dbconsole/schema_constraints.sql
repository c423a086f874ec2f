-- Constraints added NOT VALID and not validated yet.
SELECT n.nspname AS schemaname, t.relname AS table_name, c.conname AS constraint_name,
       c.contype, pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = c.connamespace
WHERE NOT c.convalidated AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2, 3
