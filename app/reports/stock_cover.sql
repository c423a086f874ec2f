-- For each live product: stock on hand, average units sold per day over the last
-- N days, days of cover at that rate, and whether to reorder; most urgent first.
-- Units sold come from the order lines (:rollups false) or from the rollups: whole
-- months, the days before the first of them, and the changes not folded yet.
WITH span AS (
    SELECT d0, m1
    FROM (SELECT CAST(:since AS date) AS d0) r,
         LATERAL (SELECT (date_trunc('month', d0 - 1) + interval '1 month')::date AS m1) m
), sold AS (
    SELECT l.product_id, sum(l.quantity) AS units
    FROM orders o
    JOIN order_lines l ON l.order_id = o.id
    WHERE NOT :rollups AND o.placed_at >= :since AND o.status = 'placed'
    GROUP BY l.product_id
    UNION ALL
    SELECT p.product_id, sum(p.units)::bigint
    FROM (
        SELECT m.product_id, m.units
        FROM sales_product_months m, span s
        WHERE m.month >= s.m1
        UNION ALL
        SELECT d.product_id, d.units
        FROM sales_product_days d, span s
        WHERE d.day >= s.d0 AND d.day < s.m1
        UNION ALL
        SELECT l.product_id, c.sign * l.quantity
        FROM order_changes c
        JOIN order_lines l ON l.order_id = c.order_id
        WHERE c.sign <> 0 AND c.placed_at >= :since
    ) p
    WHERE :rollups
    GROUP BY p.product_id
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
