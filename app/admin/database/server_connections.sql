-- Connections to this database grouped by application and state.
SELECT coalesce(nullif(application_name, ''), '(none)') AS application_name,
       coalesce(state, '(background)') AS state,
       count(*) AS connections,
       max(now() - state_change) AS longest_in_state
FROM pg_stat_activity
WHERE datname = current_database()
GROUP BY 1, 2
ORDER BY 1, 2
