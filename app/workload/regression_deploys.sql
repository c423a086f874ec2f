-- The most recent deploys, newest first, each with the deploys either side of it
-- (a deploy's windows stop at its neighbours: they ran other versions).
SELECT id, at, label, previous_at, next_at
FROM (
    SELECT id, at, label,
           lag(at) OVER (ORDER BY at, id) AS previous_at,
           lead(at) OVER (ORDER BY at, id) AS next_at
    FROM db_history_events
    WHERE kind = 'deploy'
) deploys
ORDER BY at DESC, id DESC
LIMIT :limit
