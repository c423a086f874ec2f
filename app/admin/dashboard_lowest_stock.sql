-- Until the sales rates exist: the live products with the least stock.
SELECT id, sku, name, stock
FROM products
WHERE deleted_at IS NULL
ORDER BY stock, id
LIMIT :row_limit
