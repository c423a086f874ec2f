-- Atomic increment: concurrent restocks and orders never lose an update.
UPDATE products
SET stock = stock + :quantity, version = version + 1, updated_at = now()
WHERE id = :product_id AND deleted_at IS NULL
RETURNING id, stock, version
