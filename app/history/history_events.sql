-- Deploys and migrations within a window, for the charts' markers.
SELECT at, kind, label FROM db_history_events
WHERE at >= :start AND at <= :end
ORDER BY at
