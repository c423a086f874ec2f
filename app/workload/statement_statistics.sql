-- Top statements of this database by total execution time (pg_stat_statements).
SELECT s.queryid, s.calls, s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms,
       s.max_exec_time AS max_ms, s.rows, s.shared_blks_hit, s.shared_blks_read,
       left(s.query, 2000) AS query
FROM pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY s.total_exec_time DESC
LIMIT :limit
