-- Each instance's pool over a window, by time bin: the largest per-minute sums of
-- capacity and checked out across its workers, the mean, waits and timeouts.
WITH per_minute AS (
    SELECT bucket, instance, sum(capacity) AS capacity, sum(checked_out_max) AS peak,
           sum(checked_out_mean) AS mean, sum(waits) AS waits, sum(timeouts) AS timeouts,
           sum(wait_seconds) AS wait_seconds, sum(connects) AS connects,
           sum(invalidations) AS invalidations
    FROM db_history_pool
    WHERE (bucket >= :start AND bucket < :hours_from) OR (bucket >= :hours_to AND bucket < :end)
    GROUP BY 1, 2
    UNION ALL
    SELECT bucket, instance, capacity, checked_out_max, checked_out_mean, waits, timeouts,
           wait_seconds, connects, invalidations
    FROM db_history_pool_hourly
    WHERE bucket >= :hours_from AND bucket < :hours_to
)
SELECT date_bin(:step, bucket, :origin) AS bin, instance, max(capacity) AS capacity,
       max(peak) AS peak, avg(mean) AS mean, sum(waits) AS waits, sum(timeouts) AS timeouts,
       sum(wait_seconds) AS wait_seconds, sum(connects) AS connects,
       sum(invalidations) AS invalidations
FROM per_minute
GROUP BY 1, 2
ORDER BY 1, 2
