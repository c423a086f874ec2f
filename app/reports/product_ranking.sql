-- Units and revenue per product over a date range, ranked by revenue, with the
-- cumulative share of revenue and the ABC class (A up to 80 %, B up to 95 %).
WITH per_product AS (
    SELECT l.product_id, sum(l.quantity) AS units,
           sum(l.quantity::bigint * l.unit_price_cents) AS revenue_cents
    FROM orders o
    JOIN order_lines l ON l.order_id = o.id
    WHERE o.placed_at >= :date_from AND o.placed_at < :date_to
      AND o.status = 'placed'
    GROUP BY l.product_id
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
