-- After emptying the rollups: every order there is now is the backfill's.
UPDATE rollup_state
SET historic_through_id = (SELECT coalesce(max(id), 0) FROM orders),
    backfilled_through_id = 0,
    folded_at = NULL,
    backfilled_at = NULL
WHERE id = 1
