-- Give a cancelled order's units back to stock (rows already locked by the caller).
UPDATE products p
SET stock = p.stock + l.quantity, version = p.version + 1, updated_at = now()
FROM order_lines l
WHERE l.order_id = :order_id AND p.id = l.product_id
