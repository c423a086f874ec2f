-- Revenue and orders per day with a running total and a 7-day moving average;
-- days without orders appear with zeros. Per-day sums come from the orders
-- (:rollups false) or from the day rollup plus the changes not folded yet.
WITH days AS (
    SELECT d::date AS day
    FROM generate_series(CAST(:date_from AS date), CAST(:date_to AS date) - 1,
                         interval '1 day') AS d
), per_day AS (
    SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS orders, sum(o.total_cents) AS revenue_cents
    FROM orders o
    WHERE NOT :rollups
      AND o.placed_at >= :date_from AND o.placed_at < :date_to
      AND o.status = 'placed'
    GROUP BY 1
    UNION ALL
    SELECT p.day, sum(p.orders)::bigint, sum(p.revenue_cents)
    FROM (
        SELECT s.day, s.orders, s.revenue_cents
        FROM sales_days s
        WHERE s.day >= :date_from AND s.day < :date_to
        UNION ALL
        SELECT (c.placed_at AT TIME ZONE 'UTC')::date, c.sign, c.sign * c.total_cents
        FROM order_changes c
        WHERE c.sign <> 0 AND c.placed_at >= :date_from AND c.placed_at < :date_to
    ) p
    WHERE :rollups
    GROUP BY p.day
)
SELECT days.day,
       coalesce(p.orders, 0) AS orders,
       coalesce(p.revenue_cents, 0) AS revenue_cents,
       sum(coalesce(p.revenue_cents, 0)) OVER (ORDER BY days.day)::bigint AS running_total_cents,
       -- Rounded to whole cents, as every _cents column holds.
       round(avg(coalesce(p.revenue_cents, 0)) OVER (
           ORDER BY days.day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW))::bigint
           AS moving_avg_7d_cents
FROM days
LEFT JOIN per_day p ON p.day = days.day
ORDER BY days.day
