-- Keep the plan an operator just asked for, to show on the statement page.
UPDATE db_statements SET last_plan = :plan, last_plan_at = now()
WHERE fingerprint = :fingerprint
