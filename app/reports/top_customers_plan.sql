-- Which customer sales window top customers ranks from: the one whose days differ
-- least from the report's range, counted in orders (sales_days), provided that is
-- under half the orders in the range itself; otherwise (or before the rollups are
-- ready) the orders. Either way the answer is exact: only its cost differs. Half:
-- each order between the two ranges costs a window about twice what an order in
-- the range costs the orders-only query (at 10M orders, 60 days from the 90-day
-- window: 2.9 s against 2.6 s from the orders).
WITH windows AS (
    SELECT w.window_days, w.starts_on,
           (SELECT coalesce(sum(d.orders), 0)
            FROM sales_days d
            WHERE (d.day >= :date_from AND d.day < least(w.starts_on, :date_to))
               OR (d.day >= w.starts_on AND d.day < :date_from)
               OR d.day >= greatest(w.starts_on, :date_to)) AS orders_apart
    FROM customer_sales_windows w
    WHERE :rollups
), in_range AS (
    SELECT coalesce(sum(d.orders), 0) AS orders
    FROM sales_days d
    WHERE d.day >= :date_from AND d.day < :date_to
)
SELECT w.window_days, w.starts_on AS window_starts_on, w.window_days IS NOT NULL AS rollups
FROM in_range r
LEFT JOIN LATERAL (
    SELECT window_days, starts_on
    FROM windows
    WHERE 2 * orders_apart < r.orders
    ORDER BY orders_apart, window_days
    LIMIT 1
) w ON true
