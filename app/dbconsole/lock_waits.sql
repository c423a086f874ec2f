-- Blocked and blocking pairs (pg_blocking_pids): who waits, for which lock, and
-- whom it waits for, with what each side is running. The lock is described as an
-- operator needs it: a transactionid or tuple lock is a wait for a ROW (its table
-- from the waiter's tuple lock, else from the tables it is writing), a relation
-- lock a table lock with its mode. ``holders`` are the sessions that hold the
-- very lock waited for (a blocker not among them is queued ahead for it).
WITH waiting AS (
    SELECT a.pid, a.application_name, a.state, a.wait_event_type, a.wait_event,
           a.query_start, a.query, pg_blocking_pids(a.pid) AS blocked_by
    FROM pg_stat_activity a
    WHERE a.datname = current_database()
), wanted AS (
    -- A backend waits for one lock at a time.
    SELECT DISTINCT ON (l.pid) l.*
    FROM pg_locks l
    WHERE NOT l.granted AND l.pid IS NOT NULL
    ORDER BY l.pid
)
SELECT w.pid AS waiting_pid,
       w.application_name AS waiting_application,
       w.state AS waiting_state,
       w.wait_event_type,
       w.wait_event,
       round(extract(epoch FROM clock_timestamp() - w.query_start)::numeric, 1)
           AS waiting_seconds,
       left(w.query, 1000) AS waiting_query,
       wl.locktype,
       wl.mode,
       coalesce(
           wl.relation::regclass::text,
           (SELECT string_agg(DISTINCT t.relation::regclass::text, ', ')
            FROM pg_locks t
            WHERE t.pid = w.pid AND t.granted AND t.locktype = 'tuple'),
           (SELECT string_agg(DISTINCT c.oid::regclass::text, ', ')
            FROM pg_locks t
            JOIN pg_class c ON c.oid = t.relation
            WHERE t.pid = w.pid AND t.granted AND t.locktype = 'relation'
              AND t.mode IN ('RowExclusiveLock', 'RowShareLock')
              AND c.relkind IN ('r', 'p') AND c.relnamespace <> 'pg_catalog'::regnamespace)
       ) AS relation_name,
       ARRAY(SELECT h.pid
             FROM pg_locks h
             WHERE h.granted AND h.pid IS NOT NULL AND h.pid <> w.pid
               AND h.locktype = wl.locktype
               AND h.database IS NOT DISTINCT FROM wl.database
               AND h.relation IS NOT DISTINCT FROM wl.relation
               AND h.page IS NOT DISTINCT FROM wl.page
               AND h.tuple IS NOT DISTINCT FROM wl.tuple
               AND h.virtualxid IS NOT DISTINCT FROM wl.virtualxid
               AND h.transactionid IS NOT DISTINCT FROM wl.transactionid
               AND h.classid IS NOT DISTINCT FROM wl.classid
               AND h.objid IS NOT DISTINCT FROM wl.objid
               AND h.objsubid IS NOT DISTINCT FROM wl.objsubid
             ORDER BY h.pid) AS holders,
       b.pid AS blocking_pid,
       blocking.application_name AS blocking_application,
       blocking.state AS blocking_state,
       blocking.backend_type AS blocking_backend_type,
       round(extract(epoch FROM clock_timestamp() - blocking.xact_start)::numeric, 1)
           AS blocking_transaction_seconds,
       left(blocking.query, 1000) AS blocking_query
FROM waiting w
CROSS JOIN LATERAL unnest(w.blocked_by) AS b (pid)
LEFT JOIN wanted wl ON wl.pid = w.pid
LEFT JOIN pg_stat_activity blocking ON blocking.pid = b.pid
ORDER BY w.query_start, w.pid, b.pid
