-- For each live product: stock on hand, average units sold per day over the last
-- N days, days of cover at that rate, and whether to reorder; most urgent first.
WITH sold AS (
    SELECT l.product_id, sum(l.quantity) AS units
    FROM orders o
    JOIN order_lines l ON l.order_id = o.id
    WHERE o.placed_at >= :since AND o.status = 'placed'
    GROUP BY l.product_id
), cover AS (
    SELECT p.id AS product_id, p.sku, p.name, p.stock,
           coalesce(s.units, 0)::numeric / :days AS daily_units
    FROM products p
    LEFT JOIN sold s ON s.product_id = p.id
    WHERE p.deleted_at IS NULL
)
SELECT product_id, sku, name, stock, daily_units,
       CASE WHEN daily_units > 0 THEN stock / daily_units END AS days_of_cover,
       daily_units > 0 AND stock / daily_units < :reorder_days AS reorder
FROM cover
ORDER BY days_of_cover ASC NULLS LAST, daily_units DESC, product_id
LIMIT :row_limit
