-- Replicas streaming from this server: the one furthest behind, how many are
-- synchronous now, the names of those streaming, and the settings that say which
-- standbys commits wait for (stockroom.sync_fallback: set by `flask devdb replica
-- start --sync`; NULL when never set).
SELECT count(*) AS replicas,
       count(*) FILTER (WHERE state = 'streaming') AS streaming,
       count(*) FILTER (WHERE sync_state IN ('sync', 'quorum')) AS synchronous,
       max(extract(epoch FROM replay_lag)) AS replay_lag_seconds,
       coalesce(array_agg(application_name) FILTER (WHERE state = 'streaming'), '{}')
           AS streaming_names,
       current_setting('synchronous_standby_names') AS synchronous_standby_names,
       current_setting('synchronous_commit') AS synchronous_commit,
       current_setting('stockroom.sync_fallback', true) AS sync_fallback
FROM pg_stat_replication
