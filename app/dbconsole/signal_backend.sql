-- Cancel the query of, or terminate, one backend: only if it is still the session
-- the operator confirmed (same pid and backend_start), of this database, and not
-- the console's own; a cancel only while it runs a statement (state 'active': a
-- cancel does nothing to an idle session, nor ends an idle transaction). CASE
-- evaluates the signal only when every condition holds.
WITH target AS (
    SELECT pid, application_name, state, left(query, 2000) AS statement,
           datname = current_database() AS same_database,
           pid = pg_backend_pid() AS own,
           backend_start = CAST(:backend_start AS timestamptz) AS same_session
    FROM pg_stat_activity
    WHERE pid = :pid
)
SELECT t.*,
       CASE WHEN t.same_database AND NOT t.own AND t.same_session THEN
           CASE CAST(:action AS text)
               WHEN 'cancel' THEN
                   CASE WHEN t.state = 'active' THEN pg_cancel_backend(t.pid) END
               WHEN 'terminate' THEN pg_terminate_backend(t.pid)
           END
       END AS signalled
FROM target t
