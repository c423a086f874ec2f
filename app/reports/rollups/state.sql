-- The rollups' state, locked: one fold or backfill batch at a time (a row lock,
-- held to the end of the transaction, so it works through PgBouncer too).
SELECT historic_through_id, backfilled_through_id
FROM rollup_state
WHERE id = 1
FOR UPDATE
