-- Whether the migrations' progress table exists yet (migrations/progress.py).
SELECT to_regclass('db_migration_progress') IS NOT NULL AS present
