"""Where the database's time goes: statement shapes and their history, the load
by wait event, regressions after a deploy, and EXPLAIN (the console's /admin/db/
queries, regressions and explain pages; capture is app/monitoring's)."""
