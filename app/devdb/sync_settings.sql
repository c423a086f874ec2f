-- The primary's replication settings. stockroom.sync_fallback: NULL when unset (a reset
-- leaves it defined but empty).
SELECT current_setting('synchronous_standby_names'),
       current_setting('synchronous_commit'),
       nullif(current_setting('stockroom.sync_fallback', true), '')
