-- Replicas streaming from this server: the one furthest behind.
SELECT count(*) AS replicas,
       count(*) FILTER (WHERE state = 'streaming') AS streaming,
       max(extract(epoch FROM replay_lag)) AS replay_lag_seconds
FROM pg_stat_replication
