-- The rollups: how long the oldest queued change has waited for the fold, when
-- they were last audited, and the audits since their last rebuild that found a
-- report answering otherwise from the rollups than from the orders (the latest one's
-- findings with it).
SELECT (SELECT extract(epoch FROM now() - c.queued_at)
        FROM order_changes c ORDER BY c.id LIMIT 1) AS queue_age_seconds,
       (SELECT max(a.checked_at) FROM rollup_audits a) AS audited_at,
       (SELECT count(*) FROM rollup_audits a
        WHERE a.different > 0
          AND a.checked_at >= coalesce((SELECT s.backfilled_at FROM rollup_state s
                                         WHERE s.id = 1), '-infinity')) AS failed_audits,
       (SELECT a.differences FROM rollup_audits a
        WHERE a.different > 0 ORDER BY a.id DESC LIMIT 1) AS differences
