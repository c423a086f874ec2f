-- Fold one closed hour of per-minute statement rows into the hourly table.
WITH minutes AS (
    SELECT * FROM db_history_statements
    WHERE bucket >= :hour AND bucket < :hour + interval '1 hour'
), counts AS (
    SELECT m.instance, m.fingerprint, u.i, sum(u.c)::integer AS c
    FROM minutes m, unnest(m.latency_counts) WITH ORDINALITY AS u(c, i)
    GROUP BY 1, 2, 3
), histograms AS (
    SELECT instance, fingerprint, array_agg(c ORDER BY i) AS latency_counts
    FROM counts GROUP BY 1, 2
)
INSERT INTO db_history_statements_hourly AS h (
    bucket, instance, fingerprint, calls, latency_counts, total_seconds, max_seconds)
SELECT :hour, m.instance, m.fingerprint, sum(m.calls),
       coalesce(min(x.latency_counts), '{}'), sum(m.total_seconds), max(m.max_seconds)
FROM minutes m
LEFT JOIN histograms x USING (instance, fingerprint)
GROUP BY m.instance, m.fingerprint
ON CONFLICT (bucket, instance, fingerprint) DO UPDATE SET
    calls = excluded.calls, latency_counts = excluded.latency_counts,
    total_seconds = excluded.total_seconds, max_seconds = excluded.max_seconds
