-- Customers ranked within their region by revenue over a date range, with their
-- share of the region's revenue. Cancelled orders do not count.
-- Per-customer totals come from the orders themselves (:rollups false: the rollups'
-- backfill is not through) or from the rollups: whole months, the days at the
-- range's ends, and the changes not folded yet (app/reports/rollups.py).
WITH span AS (
    SELECT d0, d1, m1, greatest(m1, m2) AS m2
    FROM (SELECT CAST(:date_from AS date) AS d0, CAST(:date_to AS date) AS d1) r,
         LATERAL (SELECT (date_trunc('month', d0 - 1) + interval '1 month')::date AS m1,
                         date_trunc('month', d1)::date AS m2) m
), customer_totals AS (
    SELECT c.region, c.id AS customer_id, c.name, c.email, t.orders, t.revenue_cents
    FROM (
        SELECT o.customer_id, count(*) AS orders, sum(o.total_cents) AS revenue_cents
        FROM orders o
        WHERE NOT :rollups
          AND o.placed_at >= :date_from AND o.placed_at < :date_to
          AND o.status = 'placed'
        GROUP BY o.customer_id
    ) t
    JOIN customers c ON c.id = t.customer_id
    UNION ALL
    -- Joined before grouping: grouped by the customer's key, the planner knows how
    -- many customers come out (grouped by a column of a UNION it guesses 200, and
    -- then probes the customers one by one).
    SELECT c.region, c.id, c.name, c.email, sum(p.orders)::bigint, sum(p.revenue_cents)
    FROM (
        SELECT m.customer_id, m.orders, m.revenue_cents
        FROM sales_customer_months m, span s
        WHERE m.month >= s.m1 AND m.month < s.m2
        UNION ALL
        SELECT d.customer_id, d.orders, d.revenue_cents
        FROM sales_customer_days d, span s
        WHERE (d.day >= s.d0 AND d.day < least(s.m1, s.d1))
           OR (d.day >= s.m2 AND d.day < s.d1)
        UNION ALL
        SELECT c.customer_id, c.sign, c.sign * c.total_cents
        FROM order_changes c
        WHERE c.sign <> 0 AND c.placed_at >= :date_from AND c.placed_at < :date_to
    ) p
    JOIN customers c ON c.id = p.customer_id
    WHERE :rollups
    GROUP BY c.id
    HAVING sum(p.orders) > 0
), ranked AS (
    SELECT t.region, t.customer_id, t.name, t.email, t.orders, t.revenue_cents,
           ROW_NUMBER() OVER (PARTITION BY t.region ORDER BY t.revenue_cents DESC, t.customer_id)
               AS rank,
           t.revenue_cents::numeric
               / sum(t.revenue_cents) OVER (PARTITION BY t.region) AS region_share
    FROM customer_totals t
    WHERE CAST(:region AS text) IS NULL OR t.region = :region
)
SELECT region, rank, customer_id, name, email, orders, revenue_cents, region_share
FROM ranked
WHERE rank <= :top_n
ORDER BY region, rank
