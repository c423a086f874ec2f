-- Add what the sampler counted since its last write into its minute's rows (one row
-- per wait event, route and statement shape; arrays of equal length).
INSERT INTO db_history_load AS l
    (bucket, wait_class, wait_event, route, statement_key, statement, sessions)
SELECT :bucket, r.wait_class, r.wait_event, r.route, r.statement_key, r.statement, r.sessions
FROM unnest(
    CAST(:wait_classes AS text[]), CAST(:wait_events AS text[]), CAST(:routes AS text[]),
    CAST(:statement_keys AS text[]), CAST(:statements AS text[]), CAST(:sessions AS int[])
) AS r (wait_class, wait_event, route, statement_key, statement, sessions)
ON CONFLICT (bucket, wait_class, wait_event, route, statement_key)
DO UPDATE SET sessions = l.sessions + excluded.sessions
