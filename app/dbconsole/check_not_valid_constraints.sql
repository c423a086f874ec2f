-- Constraints added NOT VALID and not validated yet.
SELECT count(*) AS constraints, array_agg(c.conname ORDER BY c.conname) AS names
FROM pg_constraint c
JOIN pg_namespace n ON n.oid = c.connamespace
WHERE NOT c.convalidated AND n.nspname NOT IN ('pg_catalog', 'information_schema')
