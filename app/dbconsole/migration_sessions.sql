-- Sessions running migrations on this database (flask db upgrade names its
-- connection stockroom:migrate:<instance>:<pid>).
SELECT pid, application_name, state, wait_event_type, wait_event,
       round(extract(epoch FROM clock_timestamp() - backend_start)::numeric, 1) AS session_seconds,
       round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 1) AS transaction_seconds,
       round(extract(epoch FROM clock_timestamp() - query_start)::numeric, 1) AS query_seconds,
       left(query, 1000) AS query
FROM pg_stat_activity
WHERE datname = current_database() AND application_name LIKE 'stockroom:migrate:%'
ORDER BY backend_start
