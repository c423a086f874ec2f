-- Sessions a migration blocks: what they run and how long they have waited.
SELECT waiting.pid, waiting.application_name,
       round(extract(epoch FROM clock_timestamp() - waiting.query_start)::numeric, 1)
           AS waiting_seconds,
       left(waiting.query, 500) AS query, migration.pid AS migration_pid
FROM pg_stat_activity waiting
CROSS JOIN LATERAL unnest(pg_blocking_pids(waiting.pid)) AS b (pid)
JOIN pg_stat_activity migration ON migration.pid = b.pid
WHERE waiting.datname = current_database()
  AND migration.application_name LIKE 'stockroom:migrate:%'
ORDER BY waiting.query_start
