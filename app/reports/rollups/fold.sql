-- Fold one batch into the rollups, in one statement (one snapshot): the oldest
-- :queue_limit queued changes and, when backfilling, the orders with ids in
-- (:lo, :hi] read from the orders table as they are now.
-- A queued change to an order the backfill has not read yet (an id in
-- (:lo, :historic]) is dropped: the backfill reads that order as it is by then,
-- so counting the change too would count it twice.
WITH taken AS (
    -- A queued order whose lines a writer is adding right now (the order_lines
    -- trigger holds its change) is skipped: the next fold reads its lines whole.
    DELETE FROM order_changes c
    WHERE c.id IN (SELECT id FROM order_changes ORDER BY id LIMIT :queue_limit
                   FOR UPDATE SKIP LOCKED)
       OR (c.order_id > :lo AND c.order_id <= :hi)
    RETURNING c.order_id, c.customer_id, c.placed_at, c.total_cents, c.sign, c.new_order
), changes AS (
    SELECT t.order_id, t.customer_id, t.placed_at, t.total_cents, t.sign, t.new_order
    FROM taken t
    WHERE t.order_id <= :lo OR t.order_id > :historic
    UNION ALL
    SELECT o.id, o.customer_id, o.placed_at, o.total_cents,
           CASE WHEN o.status = 'placed' THEN 1 ELSE 0 END, true
    FROM orders o
    WHERE o.id > :lo AND o.id <= :hi
), dated AS (
    SELECT c.*, (c.placed_at AT TIME ZONE 'UTC')::date AS day
    FROM changes c
), products AS (
    SELECT d.day, l.product_id,
           sum(d.sign * l.quantity)::bigint AS units,
           sum(d.sign * l.quantity::bigint * l.unit_price_cents)::bigint AS revenue_cents
    FROM dated d
    JOIN order_lines l ON l.order_id = d.order_id
    WHERE d.sign <> 0
    GROUP BY d.day, l.product_id
), days AS (
    INSERT INTO sales_days AS t (day, orders, revenue_cents)
    SELECT day, sum(sign), sum(sign * total_cents) FROM dated WHERE sign <> 0 GROUP BY day
    ON CONFLICT (day) DO UPDATE
        SET orders = t.orders + excluded.orders,
            revenue_cents = t.revenue_cents + excluded.revenue_cents
    RETURNING 1
), product_days AS (
    INSERT INTO sales_product_days AS t (day, product_id, units, revenue_cents)
    SELECT day, product_id, units, revenue_cents FROM products
    ON CONFLICT (day, product_id) DO UPDATE
        SET units = t.units + excluded.units,
            revenue_cents = t.revenue_cents + excluded.revenue_cents
    RETURNING 1
), product_months AS (
    INSERT INTO sales_product_months AS t (month, product_id, units, revenue_cents)
    SELECT date_trunc('month', day)::date, product_id, sum(units), sum(revenue_cents)
    FROM products
    GROUP BY 1, 2
    ON CONFLICT (month, product_id) DO UPDATE
        SET units = t.units + excluded.units,
            revenue_cents = t.revenue_cents + excluded.revenue_cents
    RETURNING 1
), windows AS (
    -- Each customer's sums in every window that counts the change's day; a customer
    -- new to a window comes with their region as it is (later moves are queued).
    INSERT INTO customer_window_sales AS t (window_days, customer_id, region, orders,
                                            revenue_cents)
    SELECT w.window_days, d.customer_id, c.region, sum(d.sign), sum(d.sign * d.total_cents)
    FROM dated d
    JOIN customer_sales_windows w ON d.day >= w.starts_on
    JOIN customers c ON c.id = d.customer_id
    WHERE d.sign <> 0
    GROUP BY w.window_days, d.customer_id, c.region
    ON CONFLICT (window_days, customer_id) DO UPDATE
        SET orders = t.orders + excluded.orders,
            revenue_cents = t.revenue_cents + excluded.revenue_cents
    RETURNING 1
), touched AS (
    -- Customers with new orders: their first order and months in this batch.
    SELECT customer_id, min(placed_at) AS first_placed_at,
           array_agg(DISTINCT date_trunc('month', day)::date) AS months
    FROM dated
    WHERE new_order
    GROUP BY customer_id
), activity_before AS (
    -- Read in the statement's snapshot: the rows as they were before this fold.
    SELECT a.customer_id, a.first_placed_at, a.months
    FROM customer_activity a
    JOIN touched t ON t.customer_id = a.customer_id
), activity AS (
    INSERT INTO customer_activity AS t (customer_id, first_placed_at, months)
    SELECT customer_id, first_placed_at,
           ARRAY(SELECT DISTINCT m FROM unnest(months) AS m ORDER BY m)
    FROM touched
    ON CONFLICT (customer_id) DO UPDATE
        SET first_placed_at = least(t.first_placed_at, excluded.first_placed_at),
            months = ARRAY(SELECT DISTINCT m FROM unnest(t.months || excluded.months) AS m
                           ORDER BY m)
        -- most new orders fall in a month the customer already ordered in: no write
        WHERE excluded.first_placed_at < t.first_placed_at OR NOT excluded.months <@ t.months
    RETURNING t.customer_id, t.first_placed_at, t.months
), cohort_changes AS (
    -- A changed customer leaves their old cohort's months and joins their new ones.
    SELECT date_trunc('month', b.first_placed_at AT TIME ZONE 'UTC')::date AS cohort,
           m.month, -1 AS customers
    FROM activity_before b
    JOIN activity a ON a.customer_id = b.customer_id
    CROSS JOIN LATERAL unnest(b.months) AS m(month)
    UNION ALL
    SELECT date_trunc('month', a.first_placed_at AT TIME ZONE 'UTC')::date, m.month, 1
    FROM activity a
    CROSS JOIN LATERAL unnest(a.months) AS m(month)
), cohorts AS (
    INSERT INTO cohort_months AS t (cohort, month, customers)
    SELECT cohort, month, sum(customers) FROM cohort_changes GROUP BY cohort, month
    ON CONFLICT (cohort, month) DO UPDATE SET customers = t.customers + excluded.customers
    RETURNING 1
)
SELECT (SELECT count(*) FROM taken) AS queued,
       (SELECT count(*) FROM changes) AS folded
