-- pg_stat_statements' statements of this database with their text, for matching
-- them to the app's statement shapes.
SELECT queryid, query
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND queryid IS NOT NULL AND query IS NOT NULL
