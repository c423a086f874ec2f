-- Loading: the report rollups' change triggers stay quiet (the seed rebuilds the
-- rollups from the loaded orders instead). The TRUNCATE before already holds the
-- table's exclusive lock, so nobody else writes meanwhile.
ALTER TABLE orders DISABLE TRIGGER orders_capture_inserts, DISABLE TRIGGER orders_capture_updates
