-- Live products whose stock lasts fewer than :reorder_days at their recent sales
-- rate (product_sales_rates, refreshed hourly by the sales-rates job): live stock,
-- cached rates, two small tables instead of a month of orders.
SELECT p.id, p.sku, p.name, p.stock, r.daily_units,
       p.stock / r.daily_units AS days_of_cover,
       r.computed_at
FROM product_sales_rates r
JOIN products p ON p.id = r.product_id
WHERE p.deleted_at IS NULL
  AND r.daily_units > 0
  AND p.stock / r.daily_units < :reorder_days
ORDER BY days_of_cover, r.daily_units DESC, p.id
LIMIT :row_limit
