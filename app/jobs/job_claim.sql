-- Claim one period of a periodic job: the first insert wins, the others get no row.
-- A period whose run failed may be claimed again.
INSERT INTO db_job_runs (job, period_start, claimed_by)
VALUES (:job, :period_start, :claimed_by)
ON CONFLICT (job, period_start) DO UPDATE
    SET claimed_by = excluded.claimed_by, claimed_at = now(), finished_at = NULL,
        outcome = NULL, seconds = NULL, error = NULL
    WHERE db_job_runs.outcome = 'failure'
RETURNING job
