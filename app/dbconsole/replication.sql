-- Streaming replicas attached to this server, seen from the primary: how far each
-- has written, flushed and replayed the WAL sent to it.
SELECT coalesce(nullif(application_name, ''), '(unnamed)') AS application_name,
       coalesce(host(client_addr), 'local socket') AS client,
       state,
       sync_state,
       round(extract(epoch FROM write_lag)::numeric, 3) AS write_lag_seconds,
       round(extract(epoch FROM flush_lag)::numeric, 3) AS flush_lag_seconds,
       round(extract(epoch FROM replay_lag)::numeric, 3) AS replay_lag_seconds,
       pg_wal_lsn_diff(sent_lsn, replay_lsn) AS replay_behind_bytes
FROM pg_stat_replication
ORDER BY application_name
