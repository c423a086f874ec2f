"""The admin console's Database section (/admin/db/...): overview, pool, queries,
migrations, activity, schema. These pages display; what they show is captured by
app/monitoring (each process) and app/history (the per-minute tables)."""
