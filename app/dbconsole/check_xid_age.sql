-- Transaction-ID age of the oldest database, against the age at which autovacuum
-- must freeze it.
SELECT (SELECT max(age(datfrozenxid)) FROM pg_database) AS age,
       (SELECT datname FROM pg_database ORDER BY age(datfrozenxid) DESC LIMIT 1) AS oldest,
       current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age
