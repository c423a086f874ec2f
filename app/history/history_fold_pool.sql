-- Fold one closed hour of per-worker pool minutes into one row per instance: each
-- minute's workers added up first, then the hour's largest (capacity, checked out),
-- mean (checked-out mean) and sums (waits, timeouts, events, histograms).
WITH minutes AS (
    SELECT * FROM db_history_pool
    WHERE bucket >= :hour AND bucket < :hour + interval '1 hour'
), per_minute AS (
    SELECT bucket, instance, sum(capacity) AS capacity, sum(checked_out_max) AS peak,
           sum(checked_out_mean) AS mean
    FROM minutes GROUP BY 1, 2
), waits AS (
    SELECT m.instance, u.i, sum(u.c)::integer AS c
    FROM minutes m, unnest(m.wait_counts) WITH ORDINALITY AS u(c, i) GROUP BY 1, 2
), holds AS (
    SELECT m.instance, u.i, sum(u.c)::integer AS c
    FROM minutes m, unnest(m.hold_counts) WITH ORDINALITY AS u(c, i) GROUP BY 1, 2
), totals AS (
    SELECT instance, sum(waits) AS waits, sum(wait_seconds) AS wait_seconds,
           sum(timeouts) AS timeouts, sum(connects) AS connects,
           sum(invalidations) AS invalidations
    FROM minutes GROUP BY 1
)
INSERT INTO db_history_pool_hourly AS h (
    bucket, instance, capacity, checked_out_max, checked_out_mean, waits, wait_seconds,
    timeouts, connects, invalidations, wait_counts, hold_counts)
SELECT :hour, t.instance, p.capacity, p.peak, p.mean, t.waits, t.wait_seconds, t.timeouts,
       t.connects, t.invalidations,
       coalesce((SELECT array_agg(c ORDER BY i) FROM waits w WHERE w.instance = t.instance), '{}'),
       coalesce((SELECT array_agg(c ORDER BY i) FROM holds w WHERE w.instance = t.instance), '{}')
FROM totals t
JOIN (SELECT instance, max(capacity) AS capacity, max(peak) AS peak, avg(mean) AS mean
      FROM per_minute GROUP BY 1) p USING (instance)
ON CONFLICT (bucket, instance) DO UPDATE SET
    capacity = excluded.capacity, checked_out_max = excluded.checked_out_max,
    checked_out_mean = excluded.checked_out_mean, waits = excluded.waits,
    wait_seconds = excluded.wait_seconds, timeouts = excluded.timeouts,
    connects = excluded.connects, invalidations = excluded.invalidations,
    wait_counts = excluded.wait_counts, hold_counts = excluded.hold_counts
