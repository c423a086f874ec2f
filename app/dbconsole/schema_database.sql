-- The database's size and when its statistics (scan counts) were last reset.
SELECT current_database() AS name, pg_database_size(current_database()) AS bytes,
       (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database())
           AS stats_reset,
       (SELECT max(age(datfrozenxid)) FROM pg_database) AS oldest_xid_age
