-- Of the statement shapes the workers captured as slow in the last :minutes, the
-- one with the slowest run (the overview links to its page).
SELECT fingerprint, max(max_ms) AS max_ms
FROM db_slow_queries
WHERE last_seen > now() - make_interval(mins => :minutes)
GROUP BY fingerprint
ORDER BY max(max_ms) DESC, fingerprint
LIMIT 1
