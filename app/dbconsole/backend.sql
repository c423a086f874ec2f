-- One backend, as the confirmation page shows it, with the sessions it blocks:
-- directly (pg_blocking_pids) and in all (those blocked by them, and so on).
WITH RECURSIVE waiters AS (
    SELECT o.pid, pg_blocking_pids(o.pid) AS blocked_by
    FROM pg_stat_activity o
    WHERE o.datname = current_database()
), behind (pid) AS (
    SELECT w.pid FROM waiters w WHERE CAST(:pid AS integer) = ANY (w.blocked_by)
    UNION
    SELECT w.pid FROM waiters w JOIN behind b ON b.pid = ANY (w.blocked_by)
)
SELECT pid, application_name, usename, state, backend_type, backend_start,
       datname = current_database() AS same_database,
       pid = pg_backend_pid() AS own,
       round(extract(epoch FROM clock_timestamp() - backend_start)::numeric, 1) AS age_seconds,
       round(extract(epoch FROM clock_timestamp() - query_start)::numeric, 1) AS query_seconds,
       round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 1)
           AS transaction_seconds,
       round(extract(epoch FROM clock_timestamp() - state_change)::numeric, 1) AS state_seconds,
       cardinality(pg_blocking_pids(pid)) > 0 AS blocked,
       (SELECT count(*) FROM waiters w WHERE CAST(:pid AS integer) = ANY (w.blocked_by))
           AS blocks_directly,
       (SELECT count(*) FROM behind b WHERE b.pid <> CAST(:pid AS integer)) AS blocks_total,
       left(query, 2000) AS query
FROM pg_stat_activity
WHERE pid = :pid
