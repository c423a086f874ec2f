-- Add one worker's requests of one endpoint into the instance's row for the bucket
-- (histograms add element by element; either array may be the shorter).
INSERT INTO db_history_endpoints AS h (
    bucket, instance, endpoint, requests, errors_4xx, errors_5xx, latency_counts,
    latency_max, db_seconds, queries)
VALUES (
    :bucket, :instance, :endpoint, :requests, :errors_4xx, :errors_5xx, :latency_counts,
    :latency_max, :db_seconds, :queries)
ON CONFLICT (bucket, instance, endpoint) DO UPDATE SET
    requests = h.requests + excluded.requests,
    errors_4xx = h.errors_4xx + excluded.errors_4xx,
    errors_5xx = h.errors_5xx + excluded.errors_5xx,
    latency_counts = ARRAY(
        SELECT coalesce(a, 0) + coalesce(b, 0)
        FROM unnest(h.latency_counts, excluded.latency_counts) AS u(a, b)),
    latency_max = greatest(h.latency_max, excluded.latency_max),
    db_seconds = h.db_seconds + excluded.db_seconds,
    queries = h.queries + excluded.queries
