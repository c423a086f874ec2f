-- Every user table: size, rows (estimate), scans, dead tuples, (auto)vacuum and
-- (auto)analyze, and an estimate of its bloat: the pages it has against the pages
-- its rows would need at their average width (pg_stats) and its fillfactor.
WITH widths AS (
    SELECT schemaname, tablename, sum(avg_width) AS row_width,
           count(*) FILTER (WHERE null_frac > 0) AS nullable_columns
    FROM pg_stats
    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
    GROUP BY 1, 2
)
SELECT s.relid, s.schemaname, s.relname AS table_name,
       pg_table_size(s.relid) AS table_bytes,
       pg_indexes_size(s.relid) AS index_bytes,
       greatest(c.reltuples, 0)::bigint AS rows_estimate,
       s.seq_scan, coalesce(s.idx_scan, 0) AS idx_scan,
       s.n_live_tup, s.n_dead_tup,
       greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
       greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze,
       CASE WHEN w.row_width IS NULL OR c.relpages = 0 THEN NULL
            ELSE greatest(
                c.relpages::bigint * current_setting('block_size')::int
                - ceil(c.reltuples * (24 + w.row_width + ceil(w.nullable_columns / 8.0))
                       / ((current_setting('block_size')::int - 24)
                          * coalesce((SELECT (regexp_match(o, 'fillfactor=(\d+)'))[1]::int
                                      FROM unnest(c.reloptions) AS o
                                      WHERE o LIKE 'fillfactor=%'), 100) / 100.0))
                  * current_setting('block_size')::int,
                0)::bigint
       END AS bloat_bytes
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
LEFT JOIN widths w ON w.schemaname = s.schemaname AND w.tablename = s.relname
ORDER BY pg_total_relation_size(s.relid) DESC
