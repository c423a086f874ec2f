-- One audit's outcome (differences NULL: the rollups were not in use yet); audits
-- older than 30 days go.
WITH pruned AS (
    DELETE FROM rollup_audits WHERE checked_at < now() - interval '30 days'
)
INSERT INTO rollup_audits (questions, different, differences)
VALUES (:questions, :different, CAST(:differences AS jsonb))
