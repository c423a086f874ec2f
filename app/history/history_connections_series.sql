-- The server's connections by state over a window, by time bin (the largest sample).
SELECT date_bin(:step, bucket, :origin) AS bin, state, max(connections) AS connections
FROM db_history_connections
WHERE bucket >= :start AND bucket < :end
GROUP BY 1, 2
ORDER BY 1, 2
