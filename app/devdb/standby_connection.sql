-- One standby's connection as the primary sees it: state, sync or async, lags.
SELECT state,
       sync_state,
       extract(epoch FROM write_lag)::float8 * 1000,
       extract(epoch FROM flush_lag)::float8 * 1000,
       extract(epoch FROM replay_lag)::float8 * 1000,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint
FROM pg_stat_replication
WHERE application_name = %(application_name)s
ORDER BY backend_start DESC
LIMIT 1
