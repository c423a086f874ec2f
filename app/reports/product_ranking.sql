-- Units and revenue per product over a date range, ranked by revenue, with the
-- cumulative share of revenue and the ABC class (A up to 80 %, B up to 95 %).
-- Per-product sums come from the order lines (:rollups false) or from the rollups:
-- whole months, the days at the range's ends, and the changes not folded yet.
WITH span AS (
    SELECT d0, d1, m1, greatest(m1, m2) AS m2
    FROM (SELECT CAST(:date_from AS date) AS d0, CAST(:date_to AS date) AS d1) r,
         LATERAL (SELECT (date_trunc('month', d0 - 1) + interval '1 month')::date AS m1,
                         date_trunc('month', d1)::date AS m2) m
), per_product AS (
    SELECT l.product_id, sum(l.quantity) AS units,
           sum(l.quantity::bigint * l.unit_price_cents) AS revenue_cents
    FROM orders o
    JOIN order_lines l ON l.order_id = o.id
    WHERE NOT :rollups
      AND o.placed_at >= :date_from AND o.placed_at < :date_to
      AND o.status = 'placed'
    GROUP BY l.product_id
    UNION ALL
    SELECT p.product_id, sum(p.units)::bigint, sum(p.revenue_cents)
    FROM (
        SELECT m.product_id, m.units, m.revenue_cents
        FROM sales_product_months m, span s
        WHERE m.month >= s.m1 AND m.month < s.m2
        UNION ALL
        SELECT d.product_id, d.units, d.revenue_cents
        FROM sales_product_days d, span s
        WHERE (d.day >= s.d0 AND d.day < least(s.m1, s.d1))
           OR (d.day >= s.m2 AND d.day < s.d1)
        UNION ALL
        SELECT l.product_id, c.sign * l.quantity,
               c.sign * l.quantity::bigint * l.unit_price_cents
        FROM order_changes c
        JOIN order_lines l ON l.order_id = c.order_id
        WHERE c.sign <> 0 AND c.placed_at >= :date_from AND c.placed_at < :date_to
    ) p
    WHERE :rollups
    GROUP BY p.product_id
    HAVING sum(p.units) > 0
), ranked AS (
    SELECT p.product_id, p.units, p.revenue_cents,
           RANK() OVER (ORDER BY p.revenue_cents DESC) AS revenue_rank,
           sum(p.revenue_cents) OVER (ORDER BY p.revenue_cents DESC, p.product_id
                                      ROWS UNBOUNDED PRECEDING)::numeric
               / nullif(sum(p.revenue_cents) OVER (), 0) AS cumulative_share
    FROM per_product p
)
SELECT r.revenue_rank, r.product_id, pr.sku, pr.name, r.units, r.revenue_cents,
       r.cumulative_share,
       CASE WHEN r.cumulative_share <= 0.80 THEN 'A'
            WHEN r.cumulative_share <= 0.95 THEN 'B'
            ELSE 'C' END AS abc_class
FROM ranked r
JOIN products pr ON pr.id = r.product_id
ORDER BY r.revenue_rank, r.product_id
LIMIT :row_limit
