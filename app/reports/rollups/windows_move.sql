-- Move each customer sales window's first day towards :today minus its length, by at
-- most :max_days days. Widening adds the days it takes in, narrowing takes out the
-- days it leaves, each as the fold has counted them: the orders as they are now
-- less their changes still queued (an order and its queued change commit together,
-- so in one snapshot they always agree; the queued change reaches the window later
-- only if the window still counts its day).
WITH moves AS (
    SELECT w.window_days, m.new_start,
           CASE WHEN m.new_start < w.starts_on THEN 1 ELSE -1 END AS sign,
           least(w.starts_on, m.new_start)::timestamp AT TIME ZONE 'UTC' AS lo,
           greatest(w.starts_on, m.new_start)::timestamp AT TIME ZONE 'UTC' AS hi
    FROM customer_sales_windows w
    CROSS JOIN LATERAL (SELECT CAST(:today AS date) - w.window_days + 1 AS target) t
    CROSS JOIN LATERAL (
        SELECT CASE WHEN t.target < w.starts_on
                    THEN greatest(t.target, w.starts_on - CAST(:max_days AS integer))
                    ELSE least(t.target, w.starts_on + CAST(:max_days AS integer))
               END AS new_start
    ) m
    WHERE w.starts_on <> t.target
), counted AS (
    SELECT m.window_days, x.customer_id, m.sign * x.sign AS sign, x.total_cents
    FROM moves m
    CROSS JOIN LATERAL (
        SELECT o.customer_id, 1 AS sign, o.total_cents
        FROM orders o
        WHERE o.status = 'placed' AND o.placed_at >= m.lo AND o.placed_at < m.hi
        UNION ALL
        SELECT q.customer_id, -q.sign, q.total_cents
        FROM order_changes q
        WHERE q.sign <> 0 AND q.placed_at >= m.lo AND q.placed_at < m.hi
    ) x
), sums AS (
    SELECT window_days, customer_id, sum(sign)::bigint AS orders,
           sum(sign * total_cents)::bigint AS revenue_cents
    FROM counted
    GROUP BY window_days, customer_id
    HAVING sum(sign) <> 0
), emptied AS (
    -- Customers left with no orders in the window leave it.
    DELETE FROM customer_window_sales k
    USING sums s
    WHERE k.window_days = s.window_days AND k.customer_id = s.customer_id
      AND k.orders + s.orders = 0
    RETURNING 1
), added AS (
    INSERT INTO customer_window_sales AS t (window_days, customer_id, region, orders,
                                            revenue_cents)
    SELECT s.window_days, s.customer_id, c.region, s.orders, s.revenue_cents
    FROM sums s
    JOIN customers c ON c.id = s.customer_id
    WHERE NOT EXISTS (SELECT 1 FROM customer_window_sales k
                      WHERE k.window_days = s.window_days AND k.customer_id = s.customer_id
                        AND k.orders + s.orders = 0)
    ON CONFLICT (window_days, customer_id) DO UPDATE
        SET orders = t.orders + excluded.orders,
            revenue_cents = t.revenue_cents + excluded.revenue_cents
    RETURNING 1
), moved AS (
    UPDATE customer_sales_windows w
    SET starts_on = m.new_start
    FROM moves m
    WHERE w.window_days = m.window_days
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved) AS windows,
       (SELECT count(*) FROM emptied) + (SELECT count(*) FROM added) AS customers
