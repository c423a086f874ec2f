-- Where the window's load went: average active sessions over the whole window for
-- each statement shape (with its route and main wait) or each route, the largest
-- first. :by is 'statement' or 'route'.
WITH samples AS (
    SELECT sum(samples) AS samples FROM db_history_load_samples
    WHERE bucket >= :start AND bucket < :end
), load AS (
    SELECT CASE WHEN :by = 'route' THEN route ELSE statement_key END AS key,
           wait_class, route, statement, sum(sessions) AS sessions
    FROM db_history_load
    WHERE bucket >= :start AND bucket < :end
    GROUP BY 1, 2, 3, 4
)
SELECT key,
       min(statement) AS statement,
       (array_agg(route ORDER BY sessions DESC))[1] AS route,
       sum(sessions)::float8 / nullif((SELECT samples FROM samples), 0) AS sessions,
       jsonb_object_agg(wait_class, sessions) AS waits
FROM (SELECT key, wait_class, min(route) AS route, min(statement) AS statement,
             sum(sessions) AS sessions
      FROM load GROUP BY key, wait_class) AS per_wait
GROUP BY key
ORDER BY sum(sessions) DESC
LIMIT :limit
