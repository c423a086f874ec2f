-- Loading: the report rollups' change triggers stay quiet (the seed rebuilds the
-- rollups from the loaded orders instead), and the lines are loaded without their
-- orders' queued changes. The TRUNCATE before already holds the tables' exclusive
-- locks, so nobody else writes meanwhile.
ALTER TABLE orders DISABLE TRIGGER orders_capture_inserts, DISABLE TRIGGER orders_capture_updates;
ALTER TABLE order_lines DISABLE TRIGGER order_lines_with_their_order
