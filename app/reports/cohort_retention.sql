-- Customers grouped by the month of their first order; for each later month, the
-- share of them who ordered (any order, cancelled or not: they came back).
-- From the orders (:rollups false: each customer's first order is one probe of
-- ix_orders_customer_id_placed_at) or from the rollups: each customer's first
-- order and active months in one row, plus the orders not folded yet.
WITH first_orders AS (
    SELECT c.id AS customer_id,
           date_trunc('month', f.first_placed_at AT TIME ZONE 'UTC')::date AS cohort
    FROM customers c
    CROSS JOIN LATERAL (
        SELECT min(o.placed_at) AS first_placed_at
        FROM orders o
        WHERE o.customer_id = c.id
    ) f
    WHERE NOT :rollups
      AND f.first_placed_at >= date_trunc('month', CAST(:date_from AS date))
      AND f.first_placed_at < :date_to
), pending AS (
    -- Orders not folded yet.
    SELECT c.customer_id, c.placed_at,
           date_trunc('month', c.placed_at AT TIME ZONE 'UTC')::date AS month
    FROM order_changes c
    WHERE :rollups AND c.new_order AND c.placed_at < :date_to
), pending_first AS (
    SELECT customer_id, min(placed_at) AS placed_at FROM pending GROUP BY customer_id
), members AS (
    -- Customers whose folded first order is in the range (unless a pending order
    -- came earlier still) ...
    SELECT r.customer_id, least(r.first_placed_at, p.placed_at) AS first_placed_at, r.months
    FROM customer_activity r
    LEFT JOIN pending_first p ON p.customer_id = r.customer_id
    WHERE :rollups
      AND r.first_placed_at >= date_trunc('month', CAST(:date_from AS date))
      AND r.first_placed_at < :date_to
      AND least(r.first_placed_at, p.placed_at)
          >= date_trunc('month', CAST(:date_from AS date))
    UNION ALL
    -- ... and customers whose first order in the range is pending.
    SELECT p.customer_id, least(p.placed_at, r.first_placed_at), r.months
    FROM pending_first p
    LEFT JOIN customer_activity r ON r.customer_id = p.customer_id
    WHERE NOT (r.first_placed_at >= date_trunc('month', CAST(:date_from AS date))
               AND r.first_placed_at < :date_to) IS TRUE
      AND least(p.placed_at, r.first_placed_at)
          >= date_trunc('month', CAST(:date_from AS date))
      AND least(p.placed_at, r.first_placed_at) < :date_to
), member_months AS (
    -- Each member's active months: folded, and pending ones not folded yet.
    SELECT date_trunc('month', m.first_placed_at AT TIME ZONE 'UTC')::date AS cohort, x.month
    FROM members m
    CROSS JOIN LATERAL unnest(m.months) AS x(month)
    WHERE x.month < :date_to
    UNION ALL
    SELECT DISTINCT ON (m.customer_id, p.month)
           date_trunc('month', m.first_placed_at AT TIME ZONE 'UTC')::date, p.month
    FROM members m
    JOIN pending p ON p.customer_id = m.customer_id
    WHERE NOT p.month = ANY (coalesce(m.months, '{}'))
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
    UNION ALL
    SELECT m.cohort,
           ((date_part('year', m.month) - date_part('year', m.cohort)) * 12
            + date_part('month', m.month) - date_part('month', m.cohort))::int,
           count(*)
    FROM member_months m
    GROUP BY 1, 2
)
SELECT a.cohort, a.month_offset, a.active,
       first_value(a.active) OVER w AS cohort_size,
       a.active::numeric / first_value(a.active) OVER w AS retention
FROM activity a
WHERE a.month_offset <= :max_months
WINDOW w AS (PARTITION BY a.cohort ORDER BY a.month_offset)
ORDER BY a.cohort, a.month_offset
