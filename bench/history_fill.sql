-- Synthetic per-minute history for the console benchmark (and the chart tests):
-- every minute from :start to :end, :instances instances of :workers workers each,
-- :endpoints endpoints and :shapes statement shapes per instance, connections by
-- state and pg_stat_statements deltas. Latency histograms put the counts in a few
-- buckets around a per-shape slot (app/monitoring/latency_buckets.py has 40). Rows a live
-- sampler wrote already (same minute and key) are kept.
WITH minutes AS (
    SELECT m AS bucket, extract(epoch FROM m)::bigint / 60 AS n
    FROM generate_series(:start, :end - interval '1 minute', interval '1 minute') AS m
), pool AS (
    INSERT INTO db_history_pool (
        bucket, instance, pid, capacity, checked_out_max, checked_out_mean, waits,
        wait_seconds, timeouts, connects, invalidations, wait_counts, hold_counts)
    SELECT bucket, 'bench-' || i, 1000 * i + w, 16, 2 + (n + w) % 6, 1.5 + (n % 5) * 0.4,
           (n + w) % 3, ((n + w) % 3) * 0.004, 0, (n % 60 = 0)::int, 0,
           array_fill(0, ARRAY[40]), array_fill(0, ARRAY[40])
    FROM minutes, generate_series(1, :instances) AS i, generate_series(1, :workers) AS w
    ON CONFLICT DO NOTHING
), endpoints AS (
    INSERT INTO db_history_endpoints (
        bucket, instance, endpoint, requests, errors_4xx, errors_5xx, latency_counts,
        latency_max, db_seconds, queries)
    SELECT bucket, 'bench-' || i, CASE WHEN e = 0 THEN '*' ELSE 'bench.endpoint_' || e END,
           600 + (n * 7 + e) % 300, (n + e) % 4, 0,
           (SELECT array_agg(CASE WHEN k BETWEEN 14 + e % 6 AND 18 + e % 6
                                  THEN 120 + (n + k) % 60 ELSE 0 END ORDER BY k)
            FROM generate_series(0, 39) AS k),
           0.05 + (n % 17) * 0.01, 6.0 + (n % 11) * 0.5, 3000 + n % 700
    FROM minutes, generate_series(1, :instances) AS i, generate_series(0, :endpoints) AS e
    ON CONFLICT DO NOTHING
), statements AS (
    INSERT INTO db_history_statements (
        bucket, instance, fingerprint, calls, latency_counts, total_seconds, max_seconds)
    SELECT bucket, 'bench-' || i, lpad(to_hex(s), 16, 'b'),
           400 + (n * 3 + s) % 200,
           (SELECT array_agg(CASE WHEN k BETWEEN 8 + s % 10 AND 11 + s % 10
                                  THEN 100 + (n + k) % 50 ELSE 0 END ORDER BY k)
            FROM generate_series(0, 39) AS k),
           0.2 + (s % 10) * 0.3 + (n % 13) * 0.01, 0.002 * (1 + s % 10)
    FROM minutes, generate_series(1, :instances) AS i, generate_series(1, :shapes) AS s
    ON CONFLICT DO NOTHING
), server AS (
    INSERT INTO db_history_server_statements (
        bucket, queryid, calls, total_ms, rows, shared_blks_hit, shared_blks_read)
    SELECT bucket, s, 800 + (n + s) % 100, 200.0 + s * 10, 800, 4000 + s, (n + s) % 20
    FROM minutes, generate_series(1, :shapes) AS s
    ON CONFLICT DO NOTHING
)
INSERT INTO db_history_connections (bucket, state, connections)
SELECT bucket, state, 2 + (n + length(state)) % 8
FROM minutes, unnest(ARRAY['active', 'idle', 'idle in transaction', 'background']) AS state
ON CONFLICT DO NOTHING
