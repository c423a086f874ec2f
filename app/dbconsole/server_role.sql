-- One server's role and timeline, and on a standby its WAL receiver and how far its
-- replay trails what it received: a row of the pool page's Servers section.
-- The primary's timeline is the one its current WAL file is named with (right at
-- once after a promotion, when the last checkpoint may still be on the old one); a
-- standby's is the one its WAL receiver streams, else its last restartpoint's.
SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery()
            THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver),
                          (pg_control_checkpoint()).timeline_id)
            ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
       END AS timeline,
       (SELECT status FROM pg_stat_wal_receiver) AS receiver_status,
       (SELECT sender_host FROM pg_stat_wal_receiver) AS sender_host,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint
           AS replay_behind_bytes,
       CASE WHEN pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()
            THEN round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 3)
       END AS replay_age_seconds,
       current_setting('synchronous_standby_names') AS synchronous_standby_names,
       current_setting('synchronous_commit') AS synchronous_commit
