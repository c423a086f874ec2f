-- The server's connections to this database by state, for one bucket.
INSERT INTO db_history_connections (bucket, state, connections)
SELECT :bucket, coalesce(state, 'background'), count(*)
FROM pg_stat_activity
WHERE datname = current_database()
GROUP BY 2
ON CONFLICT (bucket, state) DO NOTHING
