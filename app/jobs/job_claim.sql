-- Claim one period of a periodic job: the first insert wins, the others get no row.
INSERT INTO db_job_runs (job, period_start, claimed_by)
VALUES (:job, :period_start, :claimed_by)
ON CONFLICT (job, period_start) DO NOTHING
RETURNING job
