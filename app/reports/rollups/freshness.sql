-- Read first in a report's snapshot (REPEATABLE READ): whether the rollups can
-- answer (their backfill is through), the snapshot's time, when they were last
-- folded, the backfill's progress and how many changes wait in the queue.
SELECT now() AS snapshot_at,
       coalesce(r.backfilled_through_id >= r.historic_through_id, false) AS ready,
       r.folded_at,
       r.backfilled_through_id,
       r.historic_through_id,
       (SELECT count(*) FROM order_changes) AS queued
FROM (SELECT 1) one
LEFT JOIN rollup_state r ON r.id = 1
