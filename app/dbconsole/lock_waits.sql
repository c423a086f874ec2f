-- Blocked and blocking pairs: who waits for which lock held by whom, and what
-- each side is running (the locks view operators use PgHero for).
SELECT waiting.pid AS waiting_pid,
       waiting.application_name AS waiting_application,
       round(extract(epoch FROM clock_timestamp() - waiting.query_start)::numeric, 1)
           AS waiting_seconds,
       left(waiting.query, 1000) AS waiting_query,
       (SELECT string_agg(DISTINCT l.mode || ' on ' || coalesce(l.relation::regclass::text,
                                                                 l.locktype), ', ')
        FROM pg_locks l WHERE l.pid = waiting.pid AND NOT l.granted) AS wanted_locks,
       blocking.pid AS blocking_pid,
       blocking.application_name AS blocking_application,
       blocking.state AS blocking_state,
       round(extract(epoch FROM clock_timestamp() - blocking.xact_start)::numeric, 1)
           AS blocking_transaction_seconds,
       left(blocking.query, 1000) AS blocking_query
FROM pg_stat_activity waiting
CROSS JOIN LATERAL unnest(pg_blocking_pids(waiting.pid)) AS b (pid)
JOIN pg_stat_activity blocking ON blocking.pid = b.pid
WHERE waiting.datname = current_database()
ORDER BY waiting.query_start
