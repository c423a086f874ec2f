-- Pessimistic, one line: take the stock with a conditional UPDATE (the row is locked
-- by the UPDATE itself, one modification of the hot row instead of a lock and then
-- an update) and write the order and its line in the same statement, only when the
-- customer exists, the stock covers the quantity and, when the request's API token
-- is given (:token_prefix, :token_hash), that token is live: the request's only
-- statement, so run on its own it commits in the same round trip. No row: the
-- product is unknown or short, the customer unknown or the token not live (the
-- caller looks, after, at what it was).
WITH verdict AS (
    SELECT EXISTS (SELECT 1 FROM customers c WHERE c.id = :customer_id) AS customer_known,
           CAST(:token_prefix AS text) IS NULL OR EXISTS (
               SELECT 1 FROM api_tokens t
               WHERE t.prefix = :token_prefix AND t.token_hash = :token_hash
                 AND t.revoked_at IS NULL
           ) AS token_live
), taken AS (
    UPDATE products p
    SET stock = p.stock - :quantity, version = p.version + 1, updated_at = now()
    FROM verdict v
    WHERE p.id = :product_id AND p.deleted_at IS NULL AND p.stock >= :quantity
      AND v.customer_known AND v.token_live
    RETURNING p.id, p.price_cents
), new_order AS (
    INSERT INTO orders (customer_id, total_cents, item_count)
    SELECT :customer_id, t.price_cents::bigint * :quantity, :quantity
    FROM taken t
    RETURNING id, public_id, status, total_cents, placed_at
), new_line AS (
    INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)
    SELECT o.id, t.id, :quantity, t.price_cents
    FROM new_order o CROSS JOIN taken t
)
SELECT o.id, o.public_id, o.status, o.total_cents, o.placed_at, t.price_cents
FROM new_order o CROSS JOIN taken t
