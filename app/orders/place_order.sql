-- Pessimistic, in one statement: lock the order's products in id order (two orders
-- over the same products in opposite order queue instead of deadlocking; waits at
-- most lock_timeout), and only when the customer exists, every line is covered and
-- the request's API token, when given (:token_prefix, :token_hash), is live, take
-- the stock and write the order with its lines. The product rows stay locked
-- from this statement to the commit, not across round trips to the app.
-- One row per product found (none: every product unknown), with its stock as locked,
-- so the caller can name unknown products, an unknown customer, a dead token and
-- every short line; order_id is NULL when nothing was written.
WITH wanted AS (
    SELECT *
    FROM unnest(CAST(:product_ids AS bigint[]), CAST(:quantities AS integer[]))
        AS w (product_id, quantity)
), locked AS (
    SELECT p.id, p.price_cents, p.stock
    FROM products p
    WHERE p.id = ANY (CAST(:product_ids AS bigint[])) AND p.deleted_at IS NULL
    ORDER BY p.id
    FOR UPDATE OF p
), verdict AS (
    SELECT EXISTS (SELECT 1 FROM customers c WHERE c.id = :customer_id) AS customer_known,
           CAST(:token_prefix AS text) IS NULL OR EXISTS (
               SELECT 1 FROM api_tokens t
               WHERE t.prefix = :token_prefix AND t.token_hash = :token_hash
                 AND t.revoked_at IS NULL
           ) AS token_live,
           (SELECT count(*) FROM locked l JOIN wanted w ON w.product_id = l.id
            WHERE l.stock >= w.quantity) = cardinality(CAST(:product_ids AS bigint[]))
               AS covered
), taken AS (
    -- Reads the rows just locked: in READ COMMITTED an UPDATE works on their newest
    -- version, the one the lock waited for.
    UPDATE products p
    SET stock = p.stock - w.quantity, version = p.version + 1, updated_at = now()
    FROM wanted w, verdict v
    WHERE v.customer_known AND v.token_live AND v.covered AND p.id = w.product_id
    RETURNING p.id
), new_order AS (
    INSERT INTO orders (customer_id, total_cents, item_count)
    SELECT :customer_id,
           (SELECT sum(l.price_cents::bigint * w.quantity)
            FROM locked l JOIN wanted w ON w.product_id = l.id),
           (SELECT sum(quantity) FROM wanted)
    FROM verdict v
    WHERE v.customer_known AND v.token_live AND v.covered
    RETURNING id, public_id, status, total_cents, placed_at
), new_lines AS (
    INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)
    SELECT o.id, w.product_id, w.quantity, l.price_cents
    FROM new_order o
    CROSS JOIN wanted w
    JOIN locked l ON l.id = w.product_id
)
SELECT l.id, l.price_cents, l.stock, v.customer_known, v.token_live,
       (SELECT count(*) FROM taken) AS taken,
       o.id AS order_id, o.public_id, o.status, o.total_cents, o.placed_at
FROM locked l
CROSS JOIN verdict v
LEFT JOIN new_order o ON true
ORDER BY l.id
