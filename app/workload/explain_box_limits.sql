-- The EXPLAIN box's limits, for its savepoint only (set_config(..., true) is SET LOCAL,
-- undone when the savepoint is rolled back). A short lock_timeout: an EXPLAIN waiting
-- behind a migration's lock would make everyone after it wait too.
SELECT set_config('statement_timeout', :statement_timeout, true),
       set_config('lock_timeout', :lock_timeout, true)
