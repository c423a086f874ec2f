-- One sample of the database's load: every active session of this database but the
-- sampler's own, what it waits on (no wait event: running, on a CPU) and what it runs
-- (its text starts with the sqlcommenter comment naming its route).
SELECT coalesce(wait_event_type, 'CPU') AS wait_class,
       coalesce(wait_event, 'CPU') AS wait_event,
       application_name,
       left(query, 4096) AS query
FROM pg_stat_activity
WHERE datname = current_database()
  AND state = 'active'
  AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
