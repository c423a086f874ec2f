-- A deploy is recorded once per version (the first worker to report it wins).
INSERT INTO db_history_events (kind, label, detail)
VALUES (:kind, :label, :detail)
ON CONFLICT (label) WHERE kind = 'deploy' DO NOTHING
