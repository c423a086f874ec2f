-- Record a fold: when, and how far the backfill has read (the first time it is
-- through, when it finished).
UPDATE rollup_state
SET folded_at = now(),
    backfilled_through_id = :backfilled_through,
    backfilled_at = CASE
        WHEN backfilled_at IS NULL AND :backfilled_through >= historic_through_id THEN now()
        ELSE backfilled_at
    END
WHERE id = 1
