-- Placed orders on an average day that had any (sizes the windows' widening steps).
SELECT coalesce(sum(orders) / nullif(count(*), 0), 0) AS orders_per_day
FROM sales_days
