-- Forget this job's claims older than :days days (each run deletes the few that
-- aged out since the last, through the (job, period_start) primary key).
DELETE FROM db_job_runs
WHERE job = :job AND period_start < now() - make_interval(days => :days)
