-- Settings for this report's read-only transaction only (set_config(..., true) is
-- SET LOCAL): its own time limit, room to sort and hash in memory, planner costs
-- for data that lives in cache, and days counted in UTC. In the same round trip,
-- whether this server is a replica and how far behind the primary it is: streaming
-- with everything received replayed means no lag; otherwise the age of the last
-- replayed transaction (NULL before the first one). Roles without pg_read_all_stats
-- see only the WAL receiver's pid: then a running receiver counts as streaming.
SELECT set_config('statement_timeout', :statement_timeout, true),
       set_config('work_mem', :work_mem, true),
       set_config('random_page_cost', :random_page_cost, true),
       set_config('TimeZone', 'UTC', true),
       pg_is_in_recovery() AS in_recovery,
       coalesce((SELECT coalesce(status = 'streaming', pid IS NOT NULL)
                 FROM pg_stat_wal_receiver), false) AS streaming,
       pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS caught_up,
       extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
           AS replay_age_seconds
