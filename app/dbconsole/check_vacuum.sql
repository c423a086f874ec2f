-- Tables with many dead tuples, or dead tuples and no (auto)vacuum for long.
SELECT count(*) AS tables,
       (array_agg(relname ORDER BY n_dead_tup DESC))[1] AS worst_table,
       (array_agg(schemaname ORDER BY n_dead_tup DESC))[1] AS worst_schema,
       max(n_dead_tup) AS most_dead
FROM pg_stat_user_tables
WHERE n_dead_tup >= :min_dead
  AND (n_dead_tup > n_live_tup * :dead_percent / 100.0
       OR coalesce(greatest(last_vacuum, last_autovacuum), '-infinity')
          < now() - make_interval(days => :stale_days))
