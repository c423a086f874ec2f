-- The locks migration sessions hold on relations, and every lock they wait for.
SELECT l.pid, l.mode, l.granted, l.locktype,
       coalesce(l.relation::regclass::text, l.locktype) AS object
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE a.datname = current_database() AND a.application_name LIKE 'stockroom:migrate:%'
  AND (NOT l.granted
       OR (l.locktype = 'relation' AND l.relation::regclass::text NOT LIKE 'pg\_%'))
ORDER BY l.granted, object
