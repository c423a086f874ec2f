-- Settings for this report's read-only transaction only (set_config(..., true) is
-- SET LOCAL): its own time limit, room to sort and hash in memory, planner costs
-- for data that lives in cache, and days counted in UTC.
SELECT set_config('statement_timeout', :statement_timeout, true),
       set_config('work_mem', :work_mem, true),
       set_config('random_page_cost', :random_page_cost, true),
       set_config('TimeZone', 'UTC', true)
