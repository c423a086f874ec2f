-- Each periodic job's last success and last failure (with its error), from the
-- claims every jobs process writes.
SELECT job,
       max(finished_at) FILTER (WHERE outcome = 'success') AS last_success,
       max(finished_at) FILTER (WHERE outcome = 'failure') AS last_failure,
       (array_agg(error ORDER BY finished_at DESC) FILTER (WHERE outcome = 'failure'))[1]
           AS last_error
FROM db_job_runs
GROUP BY job
