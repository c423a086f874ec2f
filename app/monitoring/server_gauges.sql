-- The server's own gauges for /metrics, in one statement: this database's
-- connections by state, its deadlocks so far, and the transaction-ID age of the
-- oldest database (VACUUM must freeze before it nears 2 billion).
SELECT (SELECT coalesce(json_object_agg(state, connections), '{}'::json)
        FROM (SELECT coalesce(state, 'background') AS state, count(*) AS connections
              FROM pg_stat_activity
              WHERE datname = current_database()
              GROUP BY 1) AS by_state) AS connections,
       (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()) AS deadlocks,
       (SELECT max(age(datfrozenxid)) FROM pg_database) AS oldest_xid_age
