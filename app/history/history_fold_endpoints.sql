-- Fold one closed hour of per-minute endpoint rows into the hourly table (rerunning
-- it replaces the hour with the same sums).
WITH minutes AS (
    SELECT * FROM db_history_endpoints
    WHERE bucket >= :hour AND bucket < :hour + interval '1 hour'
), counts AS (
    SELECT m.instance, m.endpoint, u.i, sum(u.c)::integer AS c
    FROM minutes m, unnest(m.latency_counts) WITH ORDINALITY AS u(c, i)
    GROUP BY 1, 2, 3
), histograms AS (
    SELECT instance, endpoint, array_agg(c ORDER BY i) AS latency_counts
    FROM counts GROUP BY 1, 2
)
INSERT INTO db_history_endpoints_hourly AS h (
    bucket, instance, endpoint, requests, errors_4xx, errors_5xx, latency_counts,
    latency_max, db_seconds, queries)
SELECT :hour, m.instance, m.endpoint, sum(m.requests), sum(m.errors_4xx),
       sum(m.errors_5xx), coalesce(min(x.latency_counts), '{}'), max(m.latency_max),
       sum(m.db_seconds), sum(m.queries)
FROM minutes m
LEFT JOIN histograms x USING (instance, endpoint)
GROUP BY m.instance, m.endpoint
ON CONFLICT (bucket, instance, endpoint) DO UPDATE SET
    requests = excluded.requests, errors_4xx = excluded.errors_4xx,
    errors_5xx = excluded.errors_5xx, latency_counts = excluded.latency_counts,
    latency_max = excluded.latency_max, db_seconds = excluded.db_seconds,
    queries = excluded.queries
