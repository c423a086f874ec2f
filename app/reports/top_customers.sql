-- Customers ranked within their region by revenue over a date range, with their
-- share of the region's revenue. Cancelled orders do not count.
--
-- With :rollups (top_customers_plan.sql chose a window), from a customer sales
-- window: each customer's sums over the window's days, with their region, ranked by
-- an index. The window differs from the range by the orders placed between their
-- first days and after the range's end, and by the changes not folded yet; the
-- customers those touch ("changed") get exact totals from their window row and
-- those orders, and every other customer's window sums are their totals over the
-- range. So a region's leaders are among its first :top_n unchanged customers by
-- window revenue and its first :top_n changed ones; nobody else can outrank them.
-- A region whose orders were all free has no share to give (NULL, shown as "—").
--
-- Otherwise from the orders: at 10M orders a 90-day range ranks about 400,000
-- customers, the sort being most of the cost, so revenue is summed as bigint and
-- regions are compared bytewise ("C"; the final order uses the database's collation).
WITH customer_totals AS (
    SELECT o.customer_id, count(*) AS orders, sum(o.total_cents)::bigint AS revenue_cents
    FROM orders o
    WHERE NOT :rollups
      AND o.placed_at >= :date_from AND o.placed_at < :date_to
      AND o.status = 'placed'
    GROUP BY o.customer_id
), ranked AS (
    SELECT c.region, c.id AS customer_id, c.name, c.email, t.orders, t.revenue_cents,
           ROW_NUMBER() OVER (PARTITION BY c.region COLLATE "C"
                              ORDER BY t.revenue_cents DESC, c.id) AS rank,
           t.revenue_cents::numeric
               / nullif(sum(t.revenue_cents) OVER (PARTITION BY c.region COLLATE "C"), 0)
               AS region_share
    FROM customer_totals t
    JOIN customers c ON c.id = t.customer_id
    WHERE CAST(:region AS text) IS NULL OR c.region = :region
), window_changes AS (
    -- Orders in the range before the window's first day (+1), orders the window
    -- counts before or after the range (-1), changes not folded yet to the days the
    -- window counts, and customers whose region change is not folded yet.
    SELECT o.customer_id, 1 AS sign, o.total_cents, false AS moved
    FROM orders o
    WHERE :rollups AND o.status = 'placed'
      AND o.placed_at >= :date_from AND o.placed_at < least(:window_starts_on, :date_to)
    UNION ALL
    SELECT o.customer_id, -1, o.total_cents, false
    FROM orders o
    WHERE :rollups AND o.status = 'placed'
      AND o.placed_at >= :window_starts_on AND o.placed_at < :date_from
    UNION ALL
    SELECT o.customer_id, -1, o.total_cents, false
    FROM orders o
    WHERE :rollups AND o.status = 'placed'
      AND o.placed_at >= greatest(:window_starts_on, :date_to)
    UNION ALL
    SELECT q.customer_id, q.sign, q.total_cents, false
    FROM order_changes q
    WHERE :rollups AND q.sign <> 0 AND q.placed_at >= :window_starts_on
    UNION ALL
    SELECT r.customer_id, 0, 0, true
    FROM customer_region_changes r
    WHERE :rollups
), changed AS (
    SELECT customer_id, sum(sign)::bigint AS orders,
           sum(sign * total_cents)::bigint AS revenue_cents, bool_or(moved) AS moved
    FROM window_changes
    GROUP BY customer_id
), changed_totals AS MATERIALIZED (
    -- The changed customers' totals over the range, in their region as it is now,
    -- and what the window holds for them (to take out of its region's sum). The
    -- window's region is theirs unless they moved or are new to it.
    SELECT d.customer_id,
           CASE WHEN k.customer_id IS NULL OR d.moved
                THEN (SELECT c.region FROM customers c WHERE c.id = d.customer_id)
                ELSE k.region
           END AS region,
           k.region AS window_region,
           coalesce(k.revenue_cents, 0) AS window_revenue_cents,
           coalesce(k.orders, 0) + d.orders AS orders,
           coalesce(k.revenue_cents, 0) + d.revenue_cents AS revenue_cents
    FROM changed d
    LEFT JOIN customer_window_sales k
        ON k.window_days = :window_days AND k.customer_id = d.customer_id
), regions AS MATERIALIZED (
    SELECT region, sum(revenue_cents) AS revenue_cents
    FROM (
        SELECT k.region, k.revenue_cents
        FROM customer_window_sales k
        WHERE :rollups AND k.window_days = :window_days
        UNION ALL
        SELECT window_region, -window_revenue_cents
        FROM changed_totals
        WHERE window_region IS NOT NULL
        UNION ALL
        SELECT region, revenue_cents
        FROM changed_totals
    ) s
    WHERE CAST(:region AS text) IS NULL OR region = :region
    GROUP BY region
), candidates AS (
    -- Each region's first :top_n unchanged customers by window revenue, and its
    -- first :top_n changed ones by their totals.
    SELECT r.region, l.customer_id, l.orders, l.revenue_cents
    FROM regions r
    CROSS JOIN LATERAL (
        SELECT k.customer_id, k.orders, k.revenue_cents
        FROM customer_window_sales k
        WHERE k.window_days = :window_days AND k.region = r.region AND k.orders > 0
          AND k.customer_id NOT IN (SELECT customer_id FROM changed_totals)
        ORDER BY k.revenue_cents DESC, k.customer_id
        LIMIT :top_n
    ) l
    UNION ALL
    SELECT r.region, l.customer_id, l.orders, l.revenue_cents
    FROM regions r
    CROSS JOIN LATERAL (
        SELECT t.customer_id, t.orders, t.revenue_cents
        FROM changed_totals t
        WHERE t.region = r.region AND t.orders > 0
        ORDER BY t.revenue_cents DESC, t.customer_id
        LIMIT :top_n
    ) l
), window_ranked AS (
    SELECT k.region, k.customer_id, k.orders, k.revenue_cents,
           ROW_NUMBER() OVER (PARTITION BY k.region
                              ORDER BY k.revenue_cents DESC, k.customer_id) AS rank
    FROM candidates k
)
SELECT region, rank, customer_id, name, email, orders, revenue_cents, region_share
FROM ranked
WHERE rank <= :top_n
UNION ALL
SELECT k.region, k.rank, k.customer_id, c.name, c.email, k.orders, k.revenue_cents,
       k.revenue_cents::numeric / nullif(r.revenue_cents, 0)
FROM window_ranked k
JOIN regions r ON r.region = k.region
JOIN customers c ON c.id = k.customer_id
WHERE k.rank <= :top_n
ORDER BY region, rank
