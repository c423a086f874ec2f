-- Index builds running in this database (CREATE INDEX [CONCURRENTLY], REINDEX):
-- the phase and how far it got (blocks, then tuples, depending on the phase).
SELECT p.pid, p.command, p.phase, t.relname AS table_name, i.relname AS index_name,
       p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total,
       p.lockers_done, p.lockers_total,
       CASE WHEN p.blocks_total > 0 THEN round(100.0 * p.blocks_done / p.blocks_total, 1)
            WHEN p.tuples_total > 0 THEN round(100.0 * p.tuples_done / p.tuples_total, 1)
       END AS percent
FROM pg_stat_progress_create_index p
LEFT JOIN pg_class t ON t.oid = p.relid
LEFT JOIN pg_class i ON i.oid = p.index_relid
WHERE p.datname = current_database()
ORDER BY p.pid
