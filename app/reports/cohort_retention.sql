-- Customers grouped by the month of their first order; for each later month, the
-- share of them who ordered (any order, cancelled or not: they came back).
-- Each customer's first order is one probe of ix_orders_customer_id_placed_at.
WITH first_orders AS (
    SELECT c.id AS customer_id,
           date_trunc('month', f.first_placed_at AT TIME ZONE 'UTC')::date AS cohort
    FROM customers c
    CROSS JOIN LATERAL (
        SELECT min(o.placed_at) AS first_placed_at
        FROM orders o
        WHERE o.customer_id = c.id
    ) f
    WHERE f.first_placed_at >= date_trunc('month', CAST(:date_from AS date))
      AND f.first_placed_at < :date_to
), activity AS (
    SELECT f.cohort,
           ((extract(year FROM o.placed_at AT TIME ZONE 'UTC')
             - extract(year FROM f.cohort)) * 12
            + extract(month FROM o.placed_at AT TIME ZONE 'UTC')
            - extract(month FROM f.cohort))::int AS month_offset,
           count(DISTINCT o.customer_id) AS active
    FROM first_orders f
    JOIN orders o ON o.customer_id = f.customer_id AND o.placed_at < :date_to
    GROUP BY 1, 2
)
SELECT a.cohort, a.month_offset, a.active,
       first_value(a.active) OVER w AS cohort_size,
       a.active::numeric / first_value(a.active) OVER w AS retention
FROM activity a
WHERE a.month_offset <= :max_months
WINDOW w AS (PARTITION BY a.cohort ORDER BY a.month_offset)
ORDER BY a.cohort, a.month_offset
