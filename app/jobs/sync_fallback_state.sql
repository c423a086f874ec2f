-- What the synchronous-standby watcher decides on: the fallback chosen when the
-- standby is down (stockroom.sync_fallback: 'wait' or 'async'), the standbys commits
-- wait for now, the names kept while degraded, and the standbys connected.
SELECT nullif(current_setting('stockroom.sync_fallback', true), '') AS fallback,
       current_setting('synchronous_standby_names') AS standby_names,
       nullif(current_setting('stockroom.sync_standby_names_saved', true), '') AS saved_names,
       pg_is_in_recovery() AS in_recovery,
       (SELECT count(*) FROM pg_stat_replication
        WHERE sync_state IN ('sync', 'quorum')) AS in_sync,
       (SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming') AS streaming
