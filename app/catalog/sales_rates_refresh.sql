-- Units sold per day, per product, over the days from :since (the stock-cover
-- report's measure, kept for the dashboard); cancelled orders do not count.
INSERT INTO product_sales_rates (product_id, daily_units, since, days, computed_at)
SELECT l.product_id, sum(l.quantity)::numeric / :days, :since, :days, now()
FROM orders o
JOIN order_lines l ON l.order_id = o.id
WHERE o.placed_at >= :since AND o.status = 'placed'
GROUP BY l.product_id
