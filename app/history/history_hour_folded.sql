-- The hour's fold saw at least :writes of its minute buckets.
UPDATE db_history_hours
SET folded_writes = greatest(coalesce(folded_writes, 0), :writes)
WHERE hour = :hour
