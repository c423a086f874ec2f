-- Every statement shape's calls, time and merged histogram (all instances) before
-- and after a deploy: two windows, each read from the hourly folds for its whole
-- folded hours and from the minutes for the rest (as history_statements_window.sql).
-- Histograms are added bucket by bucket (40, app/monitoring/latency_buckets.py
-- SLOTS); NULL where no row reached a bucket.
WITH rows AS (
    SELECT 'before' AS side, fingerprint, calls, latency_counts, total_seconds, max_seconds
    FROM db_history_statements_hourly
    WHERE bucket >= :before_hours_from AND bucket < :before_hours_to
    UNION ALL
    SELECT 'before', fingerprint, calls, latency_counts, total_seconds, max_seconds
    FROM db_history_statements
    WHERE (bucket >= :before_start AND bucket < :before_hours_from)
       OR (bucket >= :before_hours_to AND bucket < :before_end)
    UNION ALL
    SELECT 'after', fingerprint, calls, latency_counts, total_seconds, max_seconds
    FROM db_history_statements_hourly
    WHERE bucket >= :after_hours_from AND bucket < :after_hours_to
    UNION ALL
    SELECT 'after', fingerprint, calls, latency_counts, total_seconds, max_seconds
    FROM db_history_statements
    WHERE (bucket >= :after_start AND bucket < :after_hours_from)
       OR (bucket >= :after_hours_to AND bucket < :after_end)
), sides AS (
    SELECT side, fingerprint, sum(calls)::bigint AS calls, sum(total_seconds) AS total_seconds,
           max(max_seconds) AS max_seconds,
           ARRAY[sum(latency_counts[1]), sum(latency_counts[2]), sum(latency_counts[3]), sum(latency_counts[4]),
                 sum(latency_counts[5]), sum(latency_counts[6]), sum(latency_counts[7]), sum(latency_counts[8]),
                 sum(latency_counts[9]), sum(latency_counts[10]), sum(latency_counts[11]), sum(latency_counts[12]),
                 sum(latency_counts[13]), sum(latency_counts[14]), sum(latency_counts[15]), sum(latency_counts[16]),
                 sum(latency_counts[17]), sum(latency_counts[18]), sum(latency_counts[19]), sum(latency_counts[20]),
                 sum(latency_counts[21]), sum(latency_counts[22]), sum(latency_counts[23]), sum(latency_counts[24]),
                 sum(latency_counts[25]), sum(latency_counts[26]), sum(latency_counts[27]), sum(latency_counts[28]),
                 sum(latency_counts[29]), sum(latency_counts[30]), sum(latency_counts[31]), sum(latency_counts[32]),
                 sum(latency_counts[33]), sum(latency_counts[34]), sum(latency_counts[35]), sum(latency_counts[36]),
                 sum(latency_counts[37]), sum(latency_counts[38]), sum(latency_counts[39]), sum(latency_counts[40])] AS latency_counts
    FROM rows
    GROUP BY side, fingerprint
)
SELECT t.side, t.fingerprint, t.calls, t.total_seconds, t.max_seconds, t.latency_counts, s.sql
FROM sides t
LEFT JOIN db_statements s USING (fingerprint)
