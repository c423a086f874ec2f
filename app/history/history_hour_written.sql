-- A minute bucket was written into this hour: count it, so that an hour folded
-- before this write is folded again.
INSERT INTO db_history_hours AS h (hour, writes)
VALUES (date_trunc('hour', CAST(:bucket AS timestamptz), 'UTC'), 1)
ON CONFLICT (hour) DO UPDATE SET writes = h.writes + 1
