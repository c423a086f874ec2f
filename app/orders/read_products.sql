-- Optimistic: read the order's products without locking; the write checks that
-- each product's version is still the one read here.
SELECT p.id, p.price_cents, p.stock, p.version,
       EXISTS (SELECT 1 FROM customers c WHERE c.id = :customer_id) AS customer_known
FROM products p
WHERE p.id = ANY (CAST(:product_ids AS bigint[])) AND p.deleted_at IS NULL
ORDER BY p.id
