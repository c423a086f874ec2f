-- How one run of a periodic job ended, on its claim. A failed atomic run's claim
-- rolled back with it: the row comes back, marked failed, unless another process
-- has claimed that period meanwhile (its own outcome is left alone).
INSERT INTO db_job_runs AS r (job, period_start, claimed_by, finished_at, outcome, seconds,
                              error)
VALUES (:job, :period_start, :claimed_by, clock_timestamp(), :outcome, :seconds, :error)
ON CONFLICT (job, period_start) DO UPDATE
    SET finished_at = excluded.finished_at, outcome = excluded.outcome,
        seconds = excluded.seconds, error = excluded.error
    WHERE r.claimed_by = excluded.claimed_by AND r.outcome IS DISTINCT FROM 'success'
