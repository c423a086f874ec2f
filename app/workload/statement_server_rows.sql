-- pg_stat_statements' rows for some queryids of this database (one per role and
-- nesting level).
SELECT s.queryid, s.calls, s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms,
       s.stddev_exec_time AS stddev_ms, s.min_exec_time AS min_ms, s.max_exec_time AS max_ms,
       s.rows, s.shared_blks_hit, s.shared_blks_read, s.temp_blks_read, s.temp_blks_written,
       s.plans, s.total_plan_time AS plan_ms, s.toplevel
FROM pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.queryid = ANY (:queryids)
ORDER BY s.calls DESC
