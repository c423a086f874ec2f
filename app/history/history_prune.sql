-- One batch of history pruning: at most :batch rows older than :before from each
-- history table, in one short transaction (repeated until every count is below
-- :batch). ctid lists keep each delete to the rows picked.
WITH
endpoints AS (
    DELETE FROM db_history_endpoints WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_endpoints WHERE bucket < :before LIMIT :batch))
    RETURNING 1
),
endpoints_hourly AS (
    DELETE FROM db_history_endpoints_hourly WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_endpoints_hourly WHERE bucket < :before LIMIT :batch))
    RETURNING 1
),
statements AS (
    DELETE FROM db_history_statements WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_statements WHERE bucket < :before LIMIT :batch))
    RETURNING 1
),
statements_hourly AS (
    DELETE FROM db_history_statements_hourly WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_statements_hourly WHERE bucket < :before LIMIT :batch))
    RETURNING 1
),
pool_hourly AS (
    DELETE FROM db_history_pool_hourly WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_pool_hourly WHERE bucket < :before LIMIT :batch))
    RETURNING 1
),
pool AS (
    DELETE FROM db_history_pool WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_pool WHERE bucket < :before LIMIT :batch))
    RETURNING 1
),
server_statements AS (
    DELETE FROM db_history_server_statements WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_server_statements WHERE bucket < :before LIMIT :batch))
    RETURNING 1
),
load AS (
    DELETE FROM db_history_load WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_load WHERE bucket < :before LIMIT :batch))
    RETURNING 1
),
load_samples AS (
    DELETE FROM db_history_load_samples WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_load_samples WHERE bucket < :before LIMIT :batch))
    RETURNING 1
),
connections AS (
    DELETE FROM db_history_connections WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_connections WHERE bucket < :before LIMIT :batch))
    RETURNING 1
),
events AS (
    DELETE FROM db_history_events WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_events WHERE at < :before LIMIT :batch))
    RETURNING 1
),
job_runs AS (
    DELETE FROM db_job_runs WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_job_runs WHERE period_start < :before LIMIT :batch))
    RETURNING 1
),
hours AS (
    DELETE FROM db_history_hours WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_history_hours WHERE hour < :before LIMIT :batch))
    RETURNING 1
),
statement_sources AS (
    DELETE FROM db_statement_sources WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_statement_sources WHERE last_seen < :before LIMIT :batch))
    RETURNING 1
),
statement_shapes AS (
    DELETE FROM db_statements WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM db_statements WHERE last_seen < :before LIMIT :batch))
    RETURNING 1
)
SELECT (SELECT count(*) FROM endpoints) AS endpoints,
       (SELECT count(*) FROM endpoints_hourly) AS endpoints_hourly,
       (SELECT count(*) FROM statements) AS statements,
       (SELECT count(*) FROM statements_hourly) AS statements_hourly,
       (SELECT count(*) FROM pool) AS pool,
       (SELECT count(*) FROM pool_hourly) AS pool_hourly,
       (SELECT count(*) FROM server_statements) AS server_statements,
       (SELECT count(*) FROM load) AS load,
       (SELECT count(*) FROM load_samples) AS load_samples,
       (SELECT count(*) FROM connections) AS connections,
       (SELECT count(*) FROM events) AS events,
       (SELECT count(*) FROM job_runs) AS job_runs,
       (SELECT count(*) FROM hours) AS hours,
       (SELECT count(*) FROM statement_sources) AS statement_sources,
       (SELECT count(*) FROM statement_shapes) AS statement_shapes
