-- An endpoint and code location that ran a statement shape.
INSERT INTO db_statement_sources AS s (fingerprint, endpoint, location)
VALUES (:fingerprint, :endpoint, :location)
ON CONFLICT (fingerprint, endpoint, location) DO UPDATE SET last_seen = now()
WHERE s.last_seen < now() - interval '1 hour'
