-- Statements of this database running longer than :seconds (not this one).
SELECT count(*) AS sessions,
       max(extract(epoch FROM clock_timestamp() - query_start)) AS longest_seconds,
       (array_agg(pid ORDER BY query_start))[1] AS oldest_pid,
       (array_agg(application_name ORDER BY query_start))[1] AS oldest_application
FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND clock_timestamp() - query_start > make_interval(secs => :seconds)
