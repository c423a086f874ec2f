-- When the sales-rates job last ran (its claim commits with its work; NULL: never).
SELECT max(claimed_at) AS ran_at FROM db_job_runs WHERE job = :job
