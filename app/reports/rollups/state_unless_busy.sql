-- The rollups' state, locked, or no row while another fold or backfill batch runs
-- (the periodic fold skips a minute rather than queue behind a backfill).
SELECT historic_through_id, backfilled_through_id
FROM rollup_state
WHERE id = 1
FOR UPDATE SKIP LOCKED
