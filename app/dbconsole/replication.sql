-- Streaming replicas attached to this server, seen from the primary: how far each
-- has written, flushed and replayed the WAL, in time and in bytes behind the
-- primary's current position (a cascading standby's: what it received).
SELECT coalesce(nullif(application_name, ''), '(unnamed)') AS application_name,
       coalesce(host(client_addr), 'local socket') AS client,
       state,
       sync_state,
       round(extract(epoch FROM write_lag)::numeric, 3) AS write_lag_seconds,
       round(extract(epoch FROM flush_lag)::numeric, 3) AS flush_lag_seconds,
       round(extract(epoch FROM replay_lag)::numeric, 3) AS replay_lag_seconds,
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                            ELSE pg_current_wal_lsn() END, flush_lsn)::bigint
           AS flush_behind_bytes,
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                            ELSE pg_current_wal_lsn() END, replay_lsn)::bigint
           AS replay_behind_bytes
FROM pg_stat_replication
ORDER BY application_name
