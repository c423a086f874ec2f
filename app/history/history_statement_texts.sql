-- Remember a statement shape's text; refresh last_seen at most hourly (not every
-- worker every minute).
INSERT INTO db_statements AS s (fingerprint, sql)
VALUES (:fingerprint, :sql)
ON CONFLICT (fingerprint) DO UPDATE SET last_seen = now()
WHERE s.last_seen < now() - interval '1 hour'
