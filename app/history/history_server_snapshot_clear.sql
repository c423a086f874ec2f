-- Forget the previous snapshot (a few thousand rows at most: pg_stat_statements.max).
DELETE FROM db_server_statement_snapshot
