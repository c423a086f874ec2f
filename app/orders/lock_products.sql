-- Pessimistic: lock the order's products, always in id order, so two orders over
-- the same products in opposite order queue instead of deadlocking. Waits at most
-- lock_timeout. Also says whether the customer exists (no extra round trip).
SELECT p.id, p.price_cents, p.stock, p.version,
       EXISTS (SELECT 1 FROM customers c WHERE c.id = :customer_id) AS customer_known
FROM products p
WHERE p.id = ANY (CAST(:product_ids AS bigint[])) AND p.deleted_at IS NULL
ORDER BY p.id
FOR UPDATE OF p
