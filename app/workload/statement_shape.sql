-- One statement shape the app ran: its text, server queryids, last plan.
SELECT fingerprint, sql, queryids, first_seen, last_seen, last_plan, last_plan_at
FROM db_statements
WHERE fingerprint = :fingerprint
