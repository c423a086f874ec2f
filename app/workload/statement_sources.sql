-- The endpoints and code locations that ran a statement shape.
SELECT endpoint, location, last_seen
FROM db_statement_sources
WHERE fingerprint = :fingerprint
ORDER BY endpoint, location
