-- Sessions of this database idle inside a transaction for longer than :seconds.
SELECT count(*) AS sessions,
       max(extract(epoch FROM clock_timestamp() - state_change)) AS longest_seconds,
       (array_agg(pid ORDER BY state_change))[1] AS oldest_pid,
       (array_agg(application_name ORDER BY state_change))[1] AS oldest_application
FROM pg_stat_activity
WHERE datname = current_database() AND state LIKE 'idle in transaction%'
  AND clock_timestamp() - state_change > make_interval(secs => :seconds)
