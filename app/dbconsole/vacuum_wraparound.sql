-- Transaction-ID and multixact age of every database (what the next anti-wraparound
-- vacuum must freeze), against the ages at which autovacuum forces it.
SELECT datname AS database,
       datname = current_database() AS current,
       age(datfrozenxid)::bigint AS xid_age,
       mxid_age(datminmxid)::bigint AS multixact_age,
       current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age,
       current_setting('autovacuum_multixact_freeze_max_age')::bigint AS multixact_freeze_max_age
FROM pg_database
WHERE datallowconn
ORDER BY age(datfrozenxid) DESC, datname
