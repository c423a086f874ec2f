"""The reports' rollups: per-day and per-month sums kept from a queue of order
changes (tables in models.py, upkeep in upkeep.py, ``flask rollup`` in cli.py, one
statement per .sql file)."""
