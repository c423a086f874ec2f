-- The refresh reads a month of orders: seconds at ten million orders, past the web
-- statement timeout its connection carries. Raised for this transaction only
-- (set_config(..., true) is SET LOCAL: nothing outlives it, even behind PgBouncer).
SELECT set_config('statement_timeout', :timeout, true)
