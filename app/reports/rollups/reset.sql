-- After emptying the rollups: every order there is now is the backfill's, and the
-- customer sales windows start tomorrow (empty) until widened again.
WITH windows AS (
    UPDATE customer_sales_windows
    SET starts_on = (now() AT TIME ZONE 'UTC')::date + 1
    RETURNING 1
)
UPDATE rollup_state
SET historic_through_id = (SELECT coalesce(max(id), 0) FROM orders),
    backfilled_through_id = 0,
    folded_at = NULL,
    backfilled_at = NULL
WHERE id = 1
