-- Long migration steps that reported progress in the last :hours hours
-- (migrations/progress.py): rows done, the rate, and the time left. The caller
-- checks the table exists first: migrations create it on first use.
SELECT s.revision, s.step, s.rows_done, s.rows_total, s.started_at, s.updated_at, s.pid,
       a.pid IS NOT NULL AND (s.rows_total IS NULL OR s.rows_done < s.rows_total) AS running,
       round(extract(epoch FROM s.updated_at - s.started_at)::numeric, 1) AS seconds,
       CASE WHEN s.updated_at > s.started_at
            THEN round(s.rows_done / extract(epoch FROM s.updated_at - s.started_at)) END
           AS rows_per_second,
       CASE WHEN s.rows_total > 0 THEN round(100.0 * s.rows_done / s.rows_total, 1) END
           AS percent,
       CASE WHEN s.rows_done > 0 AND s.rows_total > s.rows_done
                 AND s.updated_at > s.started_at
            THEN round((s.rows_total - s.rows_done)
                       * extract(epoch FROM s.updated_at - s.started_at) / s.rows_done)
       END AS seconds_left
FROM db_migration_progress s
LEFT JOIN pg_stat_activity a
       ON a.pid = s.pid AND a.application_name LIKE 'stockroom:migrate:%'
WHERE s.updated_at > now() - make_interval(hours => :hours)
ORDER BY s.updated_at DESC
LIMIT 20
