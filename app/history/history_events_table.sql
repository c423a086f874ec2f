-- Whether the history's events table exists yet (migrations older than it run first).
SELECT to_regclass('db_history_events') IS NOT NULL
