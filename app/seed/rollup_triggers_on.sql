-- Loaded: orders written from now on reach the report rollups again, and lines only
-- come with their orders.
ALTER TABLE orders ENABLE TRIGGER orders_capture_inserts, ENABLE TRIGGER orders_capture_updates;
ALTER TABLE order_lines ENABLE TRIGGER order_lines_with_their_order
