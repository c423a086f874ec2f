-- The server's own gauges for /metrics, in one statement: this database's
-- connections by state, its deadlocks so far, the transaction-ID age of the
-- oldest database (VACUUM must freeze before it nears 2 billion), and when each
-- periodic job last succeeded (its claims in db_job_runs, whichever process ran it).
SELECT (SELECT coalesce(json_object_agg(state, connections), '{}'::json)
        FROM (SELECT coalesce(state, 'background') AS state, count(*) AS connections
              FROM pg_stat_activity
              WHERE datname = current_database()
              GROUP BY 1) AS by_state) AS connections,
       (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()) AS deadlocks,
       (SELECT max(age(datfrozenxid)) FROM pg_database) AS oldest_xid_age,
       (SELECT coalesce(json_object_agg(job, extract(epoch FROM last_success)), '{}'::json)
        FROM (SELECT job, max(finished_at) AS last_success
              FROM db_job_runs
              WHERE outcome = 'success'
              GROUP BY job) AS jobs) AS job_last_success
