-- The latest hour folded into the hourly tables (long windows read those up to it).
SELECT max(period_start) FROM db_job_runs WHERE job = 'history-fold-hour'
