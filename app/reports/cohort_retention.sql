-- Customers grouped by the month of their first order; for each later month, the
-- share of them who ordered (any order, cancelled or not: they came back).
-- From the orders (:rollups false: each customer's first order is one probe of
-- ix_orders_customer_id_placed_at) or from the rollups: the customers per cohort
-- and month as last folded, corrected for the customers with orders not folded yet.
-- The rollups count whole months: exact while no order lies past :date_to, which the
-- form always sets to tomorrow.
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
), raw_activity AS (
    SELECT f.cohort,
           ((extract(year FROM o.placed_at AT TIME ZONE 'UTC')
             - extract(year FROM f.cohort)) * 12
            + extract(month FROM o.placed_at AT TIME ZONE 'UTC')
            - extract(month FROM f.cohort))::int AS month_offset,
           count(DISTINCT o.customer_id) AS active
    FROM first_orders f
    JOIN orders o ON o.customer_id = f.customer_id AND o.placed_at < :date_to
    GROUP BY 1, 2
), pending AS (
    -- Customers with orders not folded yet: as folded, and with those orders merged.
    SELECT c.customer_id, a.first_placed_at AS folded_first, a.months AS folded_months,
           least(min(c.placed_at), a.first_placed_at) AS first_placed_at,
           array_agg(DISTINCT date_trunc('month', c.placed_at AT TIME ZONE 'UTC')::date)
               AS new_months
    FROM order_changes c
    LEFT JOIN customer_activity a ON a.customer_id = c.customer_id
    WHERE :rollups AND c.new_order
    GROUP BY c.customer_id, a.first_placed_at, a.months
), counts AS (
    SELECT m.cohort, m.month, m.customers
    FROM cohort_months m
    WHERE :rollups
    UNION ALL
    SELECT date_trunc('month', p.folded_first AT TIME ZONE 'UTC')::date, x.month, -1
    FROM pending p
    CROSS JOIN LATERAL unnest(p.folded_months) AS x(month)
    UNION ALL
    SELECT date_trunc('month', p.first_placed_at AT TIME ZONE 'UTC')::date, x.month, 1
    FROM pending p
    CROSS JOIN LATERAL (
        SELECT DISTINCT u FROM unnest(coalesce(p.folded_months, '{}') || p.new_months) AS u
    ) AS x(month)
), activity AS (
    SELECT cohort, month_offset, active FROM raw_activity
    UNION ALL
    SELECT c.cohort,
           ((date_part('year', c.month) - date_part('year', c.cohort)) * 12
            + date_part('month', c.month) - date_part('month', c.cohort))::int,
           sum(c.customers)::bigint
    FROM counts c
    WHERE c.cohort >= date_trunc('month', CAST(:date_from AS date))
      AND c.cohort < :date_to AND c.month < :date_to
    GROUP BY c.cohort, c.month
    HAVING sum(c.customers) > 0
)
SELECT a.cohort, a.month_offset, a.active,
       first_value(a.active) OVER w AS cohort_size,
       a.active::numeric / first_value(a.active) OVER w AS retention
FROM activity a
WHERE a.month_offset <= :max_months
WINDOW w AS (PARTITION BY a.cohort ORDER BY a.month_offset)
ORDER BY a.cohort, a.month_offset
