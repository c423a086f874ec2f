-- Hours of the last two days, up to the one that just closed, with minute buckets
-- their hourly fold has not seen yet (never folded, or written into after it was),
-- with how many writes they had when read: the fold that follows sees at least those.
SELECT hour, writes
FROM db_history_hours
WHERE hour <= :hour AND hour >= CAST(:hour AS timestamptz) - interval '48 hours'
  AND (folded_writes IS NULL OR writes > folded_writes)
ORDER BY hour
