-- The app's statement shapes seen lately, with the queryids matched so far.
SELECT fingerprint, sql, coalesce(queryids, '{}') AS queryids
FROM db_statements
WHERE last_seen > now() - interval '1 day'
