-- One backend, as the confirmation page shows it.
SELECT pid, application_name, usename, state, backend_type, backend_start,
       datname = current_database() AS same_database,
       pid = pg_backend_pid() AS own,
       round(extract(epoch FROM clock_timestamp() - backend_start)::numeric, 1) AS age_seconds,
       round(extract(epoch FROM clock_timestamp() - query_start)::numeric, 1) AS query_seconds,
       round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 1)
           AS transaction_seconds,
       left(query, 2000) AS query
FROM pg_stat_activity
WHERE pid = :pid
