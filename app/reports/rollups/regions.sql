-- Move the window sales of customers whose region changed (queued by a trigger on
-- customers) to their region as it is now. Its own statement, after the fold's:
-- one statement must not update a row twice.
WITH moved AS (
    DELETE FROM customer_region_changes
    WHERE id IN (SELECT id FROM customer_region_changes ORDER BY id LIMIT :queue_limit)
    RETURNING customer_id
)
UPDATE customer_window_sales k
SET region = c.region
FROM customers c
WHERE c.id = k.customer_id
  AND k.customer_id IN (SELECT customer_id FROM moved)
  AND k.region <> c.region
