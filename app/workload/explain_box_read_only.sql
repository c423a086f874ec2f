-- The EXPLAIN box runs inside a savepoint of the request's transaction: make it read
-- only (nothing the typed statement does can write; rolled back with the savepoint).
SET TRANSACTION READ ONLY
