-- pg_stat_statements' change since the last sample, for the statements of this
-- database that took the most time in between. A statement new since the sample
-- counts from zero; one whose counters went down (a reset) counts from its reset.
WITH now_stats AS (
    SELECT queryid, sum(calls) AS calls, sum(total_exec_time) AS total_ms,
           sum(rows) AS rows, sum(shared_blks_hit) AS shared_blks_hit,
           sum(shared_blks_read) AS shared_blks_read
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND queryid IS NOT NULL
    GROUP BY queryid
), changes AS (
    SELECT n.queryid,
           CASE WHEN n.calls >= coalesce(p.calls, 0) THEN n.calls - coalesce(p.calls, 0)
                ELSE n.calls END AS calls,
           CASE WHEN n.calls >= coalesce(p.calls, 0) THEN n.total_ms - coalesce(p.total_ms, 0)
                ELSE n.total_ms END AS total_ms,
           CASE WHEN n.calls >= coalesce(p.calls, 0) THEN n.rows - coalesce(p.rows, 0)
                ELSE n.rows END AS rows,
           CASE WHEN n.calls >= coalesce(p.calls, 0)
                THEN n.shared_blks_hit - coalesce(p.shared_blks_hit, 0)
                ELSE n.shared_blks_hit END AS shared_blks_hit,
           CASE WHEN n.calls >= coalesce(p.calls, 0)
                THEN n.shared_blks_read - coalesce(p.shared_blks_read, 0)
                ELSE n.shared_blks_read END AS shared_blks_read
    FROM now_stats n
    LEFT JOIN db_server_statement_snapshot p USING (queryid)
)
INSERT INTO db_history_server_statements (
    bucket, queryid, calls, total_ms, rows, shared_blks_hit, shared_blks_read)
SELECT :bucket, queryid, calls, total_ms, rows, shared_blks_hit, shared_blks_read
FROM changes
WHERE calls > 0
ORDER BY total_ms DESC
LIMIT :top
ON CONFLICT (bucket, queryid) DO NOTHING
