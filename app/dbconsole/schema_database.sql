-- The database's size, when its statistics (scan counts) were last reset, and how
-- long they have been counting: since that reset or, never reset, since the server
-- started (the counters start from zero then too).
SELECT current_database() AS name, pg_database_size(current_database()) AS bytes,
       d.stats_reset,
       coalesce(d.stats_reset, pg_postmaster_start_time()) AS stats_since,
       extract(epoch FROM now() - coalesce(d.stats_reset, pg_postmaster_start_time()))
           AS stats_age_seconds,
       (SELECT max(age(datfrozenxid)) FROM pg_database) AS oldest_xid_age
FROM pg_stat_database d
WHERE d.datname = current_database()
