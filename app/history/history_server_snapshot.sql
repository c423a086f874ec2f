-- pg_stat_statements' cumulative numbers now, to take the next sample's change
-- from (after history_server_snapshot_clear.sql in the same transaction).
INSERT INTO db_server_statement_snapshot (
    queryid, calls, total_ms, rows, shared_blks_hit, shared_blks_read, taken_at)
SELECT queryid, sum(calls), sum(total_exec_time), sum(rows), sum(shared_blks_hit),
       sum(shared_blks_read), now()
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND queryid IS NOT NULL
GROUP BY queryid
