-- One worker's pool over one bucket (written once, by that worker).
INSERT INTO db_history_pool (
    bucket, instance, pid, capacity, checked_out_max, checked_out_mean, waits,
    wait_seconds, timeouts, connects, invalidations, wait_counts, hold_counts)
VALUES (
    :bucket, :instance, :pid, :capacity, :checked_out_max, :checked_out_mean, :waits,
    :wait_seconds, :timeouts, :connects, :invalidations, :wait_counts, :hold_counts)
ON CONFLICT (bucket, instance, pid) DO NOTHING
