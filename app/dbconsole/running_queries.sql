-- Every session of this database but ours: what it runs, for how long, and who
-- blocks it.
SELECT pid, usename, application_name, client_addr, backend_type, state,
       wait_event_type, wait_event,
       round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 1)
           AS transaction_seconds,
       round(extract(epoch FROM clock_timestamp() - query_start)::numeric, 1) AS query_seconds,
       round(extract(epoch FROM clock_timestamp() - state_change)::numeric, 1) AS state_seconds,
       pg_blocking_pids(pid) AS blocked_by,
       left(query, 1000) AS query
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
ORDER BY (state = 'idle'), query_start
