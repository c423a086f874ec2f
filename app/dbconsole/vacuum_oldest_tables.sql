-- This database's tables (with their TOAST tables and materialized views) whose
-- frozen transaction ID is oldest: the ones the next anti-wraparound vacuum must scan.
SELECT c.oid::regclass::text AS table_name,
       c.relkind,
       age(c.relfrozenxid)::bigint AS xid_age,
       pg_size_pretty(pg_table_size(c.oid)) AS size,
       greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
       extract(epoch FROM clock_timestamp() - greatest(s.last_vacuum, s.last_autovacuum))::float8
           AS vacuumed_seconds_ago
FROM pg_class c
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'::xid
ORDER BY age(c.relfrozenxid) DESC, c.oid
LIMIT :limit
