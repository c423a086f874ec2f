-- What holds the xmin horizon back (rows deleted after it cannot be vacuumed away),
-- oldest first: open transactions, replication slots, standbys' feedback, prepared
-- transactions, each with the transaction-ID age it pins. Vacuums and walsenders are
-- left out of the sessions: vacuum's own xmin is ignored by the horizon, and a
-- walsender's is its standby's feedback, listed as such.
SELECT 'transaction' AS kind,
       a.pid,
       a.datname AS database,
       coalesce(nullif(a.application_name, ''), a.backend_type) AS name,
       coalesce(a.state, a.backend_type) AS state,
       greatest(age(a.backend_xid), age(a.backend_xmin))::bigint AS xid_age,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS seconds,
       (a.datname = current_database() AND a.backend_type = 'client backend') AS can_terminate,
       left(a.query, 300) AS detail
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid()
  AND (a.backend_xid IS NOT NULL OR a.backend_xmin IS NOT NULL)
  AND a.backend_type NOT IN ('autovacuum worker', 'walsender')
UNION ALL
SELECT 'replication slot',
       s.active_pid,
       s.database,
       s.slot_name,
       CASE WHEN s.active THEN 'active' ELSE 'inactive' END,
       greatest(age(s.xmin), age(s.catalog_xmin))::bigint,
       NULL,
       false,
       s.slot_type || ' slot' || coalesce(', plugin ' || s.plugin, '')
FROM pg_replication_slots s
WHERE s.xmin IS NOT NULL OR s.catalog_xmin IS NOT NULL
UNION ALL
SELECT 'standby feedback',
       r.pid,
       NULL,
       coalesce(nullif(r.application_name, ''), '(unnamed)'),
       r.state,
       age(r.backend_xmin)::bigint,
       extract(epoch FROM clock_timestamp() - r.backend_start)::float8,
       false,
       'hot_standby_feedback from ' || coalesce(host(r.client_addr), 'local socket')
FROM pg_stat_replication r
WHERE r.backend_xmin IS NOT NULL
UNION ALL
SELECT 'prepared transaction',
       NULL,
       p.database,
       p.gid,
       'prepared',
       age(p.transaction)::bigint,
       extract(epoch FROM clock_timestamp() - p.prepared)::float8,
       false,
       'owner ' || p.owner
FROM pg_prepared_xacts p
ORDER BY xid_age DESC NULLS LAST, seconds DESC NULLS LAST
LIMIT :limit
