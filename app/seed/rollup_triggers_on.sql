-- Loaded: orders written from now on reach the report rollups again.
ALTER TABLE orders ENABLE TRIGGER orders_capture_inserts, ENABLE TRIGGER orders_capture_updates
