-- A deploy a day at 09:00 and a migration the day before the last, over the range.
INSERT INTO db_history_events (at, kind, label, detail)
SELECT d + interval '9 hours', 'deploy', 'bench-' || to_char(d, 'YYYYMMDD'), NULL
FROM generate_series(date_trunc('day', :start), :end, interval '1 day') AS d
WHERE d + interval '9 hours' BETWEEN :start AND :end
ON CONFLICT (label) WHERE kind = 'deploy' DO NOTHING
