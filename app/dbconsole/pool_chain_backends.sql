-- The server end of the chain: this database's backends opened for Stockroom (by
-- application_name; behind PgBouncer the name of the client it last served), by state,
-- with how many wait for a lock and the longest time in the state. The page's own
-- connection is left out.
SELECT coalesce(state, '(background)') AS state,
       count(*) AS backends,
       count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting_for_locks,
       extract(epoch FROM max(clock_timestamp() - state_change))::float8 AS longest_seconds
FROM pg_stat_activity
WHERE datname = current_database()
  AND application_name LIKE 'stockroom:%'
  AND pid <> pg_backend_pid()
GROUP BY 1
ORDER BY 1
