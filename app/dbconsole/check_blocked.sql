-- Sessions of this database waiting for a lock longer than :seconds, and the
-- session blocking the one that has waited longest.
SELECT count(DISTINCT waiting.pid) AS sessions,
       max(extract(epoch FROM clock_timestamp() - waiting.query_start)) AS longest_seconds,
       (array_agg(blocking.pid ORDER BY waiting.query_start))[1] AS blocker_pid,
       (array_agg(blocking.application_name ORDER BY waiting.query_start))[1]
           AS blocker_application,
       (array_agg(blocking.state ORDER BY waiting.query_start))[1] AS blocker_state
FROM pg_stat_activity waiting
CROSS JOIN LATERAL unnest(pg_blocking_pids(waiting.pid)) AS b (pid)
JOIN pg_stat_activity blocking ON blocking.pid = b.pid
WHERE waiting.datname = current_database()
  AND clock_timestamp() - waiting.query_start > make_interval(secs => :seconds)
