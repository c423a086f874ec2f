-- Constraints added NOT VALID and not validated yet, and the first table constraint
-- among them as schema.table.constraint (the schema page's anchor for its row).
SELECT count(*) AS constraints, array_agg(c.conname ORDER BY c.conname) AS names,
       (array_agg(n.nspname || '.' || t.relname || '.' || c.conname ORDER BY c.conname)
            FILTER (WHERE t.oid IS NOT NULL))[1] AS first_constraint
FROM pg_constraint c
JOIN pg_namespace n ON n.oid = c.connamespace
LEFT JOIN pg_class t ON t.oid = c.conrelid
WHERE NOT c.convalidated AND n.nspname NOT IN ('pg_catalog', 'information_schema')
