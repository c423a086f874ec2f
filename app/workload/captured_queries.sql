-- Slow statements captured by every worker, merged by statement shape; p95 over
-- the recent samples all workers kept.
WITH per_shape AS (
    SELECT fingerprint,
           min(sql) AS sql,
           sum(count) AS calls,
           sum(total_ms) AS total_ms,
           max(max_ms) AS max_ms,
           max(last_seen) AS last_seen,
           (array_agg(endpoint ORDER BY last_seen DESC))[1] AS endpoint,
           (array_agg(location ORDER BY last_seen DESC))[1] AS location,
           count(*) AS workers
    FROM db_slow_queries
    GROUP BY fingerprint
), percentiles AS (
    SELECT q.fingerprint, percentile_cont(0.95) WITHIN GROUP (ORDER BY s.ms) AS p95_ms
    FROM db_slow_queries q
    CROSS JOIN LATERAL unnest(q.samples) AS s (ms)
    GROUP BY q.fingerprint
)
SELECT p.fingerprint, p.sql, p.calls, p.total_ms / nullif(p.calls, 0) AS mean_ms,
       pc.p95_ms, p.max_ms, p.total_ms, p.last_seen, p.endpoint, p.location, p.workers
FROM per_shape p
LEFT JOIN percentiles pc USING (fingerprint)
ORDER BY p.total_ms DESC
LIMIT :limit
