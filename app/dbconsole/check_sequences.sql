-- The sequence furthest into its range, counting the range of the integer column
-- it feeds (an int4 column fed by a bigint sequence ends at 2^31 - 1). From the
-- catalogs only: no scan of any table.
WITH fed AS (
    SELECT s.schemaname, s.sequencename, s.last_value, s.max_value AS sequence_max,
           c.relname AS table_name, a.attname AS column_name,
           CASE t.typname WHEN 'int2' THEN 32767 WHEN 'int4' THEN 2147483647
                          ELSE 9223372036854775807 END AS column_max
    FROM pg_sequences s
    JOIN pg_namespace sn ON sn.nspname = s.schemaname
    JOIN pg_class sc ON sc.relname = s.sequencename AND sc.relnamespace = sn.oid
    LEFT JOIN pg_depend d ON d.objid = sc.oid AND d.classid = 'pg_class'::regclass
        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    LEFT JOIN pg_class c ON c.oid = d.refobjid
    LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    LEFT JOIN pg_type t ON t.oid = a.atttypid
)
SELECT schemaname || '.' || sequencename AS sequence_name, table_name, column_name,
       last_value, sequence_max, column_max, least(sequence_max, column_max) AS maximum,
       round(100 * coalesce(last_value, 0)::numeric / least(sequence_max, column_max), 2)
           AS used_percent
FROM fed
ORDER BY coalesce(last_value, 0)::numeric / least(sequence_max, column_max) DESC
LIMIT 1
