-- Vacuums running now (autovacuum workers and VACUUM commands) in any database: the
-- table (named only in this database: its oid means nothing elsewhere), the phase,
-- how far the heap scan is, and for how long.
SELECT p.pid,
       p.datname AS database,
       CASE WHEN p.datname = current_database() THEN p.relid::regclass::text
            ELSE 'oid ' || p.relid END AS table_name,
       p.phase,
       p.heap_blks_total,
       p.heap_blks_scanned,
       p.heap_blks_vacuumed,
       round(100.0 * p.heap_blks_scanned / nullif(p.heap_blks_total, 0), 1)::float8 AS scanned_percent,
       p.index_vacuum_count,
       a.backend_type = 'autovacuum worker' AS autovacuum,
       left(a.query, 300) AS query,
       extract(epoch FROM clock_timestamp() - coalesce(a.xact_start, a.query_start))::float8
           AS seconds
FROM pg_stat_progress_vacuum p
LEFT JOIN pg_stat_activity a ON a.pid = p.pid
ORDER BY seconds DESC NULLS LAST
