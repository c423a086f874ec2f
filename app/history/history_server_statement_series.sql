-- pg_stat_statements' change per time bin for some queryids (added together; sums
-- of bigint are numeric, cast back to bigint for plain Python ints).
SELECT date_bin(:step, bucket, :origin) AS bin, sum(calls)::bigint AS calls,
       sum(total_ms) AS total_ms, sum(rows)::bigint AS rows,
       sum(shared_blks_hit)::bigint AS shared_blks_hit, sum(shared_blks_read)::bigint AS shared_blks_read
FROM db_history_server_statements
WHERE queryid = ANY (:queryids) AND bucket >= :start AND bucket < :end
GROUP BY 1
ORDER BY 1
