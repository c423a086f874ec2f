-- How far the rollups are: the backfill's progress and the queue's length.
SELECT s.historic_through_id, s.backfilled_through_id, s.folded_at, s.backfilled_at,
       (SELECT count(*) FROM order_changes) AS queued
FROM rollup_state s
WHERE s.id = 1
