-- Add one worker's executions of one statement shape into the instance's row.
INSERT INTO db_history_statements AS h (
    bucket, instance, fingerprint, calls, latency_counts, total_seconds, max_seconds)
VALUES (
    :bucket, :instance, :fingerprint, :calls, :latency_counts, :total_seconds, :max_seconds)
ON CONFLICT (bucket, instance, fingerprint) DO UPDATE SET
    calls = h.calls + excluded.calls,
    latency_counts = ARRAY(
        SELECT coalesce(a, 0) + coalesce(b, 0)
        FROM unnest(h.latency_counts, excluded.latency_counts) AS u(a, b)),
    total_seconds = h.total_seconds + excluded.total_seconds,
    max_seconds = greatest(h.max_seconds, excluded.max_seconds)
