-- Connections to this database grouped by application and state (clock_timestamp:
-- now() is the start of this transaction, earlier than some state changes).
SELECT coalesce(nullif(application_name, ''), '(none)') AS application_name,
       coalesce(state, '(background)') AS state,
       count(*) AS connections,
       round(extract(epoch FROM max(clock_timestamp() - state_change))::numeric, 1)
           AS longest_in_state_seconds
FROM pg_stat_activity
WHERE datname = current_database()
GROUP BY 1, 2
ORDER BY 1, 2
