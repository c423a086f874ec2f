-- Average active sessions per time bin of the window, by wait class: the sampled
-- sessions of each class over the samples taken in the bin. A bin without samples
-- has no row (the chart leaves a gap: nobody was sampling).
WITH samples AS (
    SELECT date_bin(:step, bucket, :origin) AS bin, sum(samples) AS samples
    FROM db_history_load_samples
    WHERE bucket >= :start AND bucket < :end
    GROUP BY 1
), load AS (
    SELECT date_bin(:step, bucket, :origin) AS bin, wait_class, sum(sessions) AS sessions
    FROM db_history_load
    WHERE bucket >= :start AND bucket < :end
    GROUP BY 1, 2
)
SELECT s.bin, l.wait_class, coalesce(l.sessions, 0)::float8 / s.samples AS sessions
FROM samples s
LEFT JOIN load l USING (bin)
ORDER BY s.bin
