-- Closed hours of the last two days with minute rows but no hourly fold yet.
SELECT DISTINCT date_trunc('hour', m.bucket, 'UTC')
FROM db_history_pool m
WHERE m.bucket >= :hour - interval '48 hours' AND m.bucket < :hour
  AND NOT EXISTS (
      SELECT 1 FROM db_history_pool_hourly h
      WHERE h.bucket = date_trunc('hour', m.bucket, 'UTC') AND h.instance = m.instance)
