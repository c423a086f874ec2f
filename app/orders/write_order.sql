-- Take the stock of every line and write the order with its lines: one statement
-- whatever the number of lines. A product whose version changed since it was read
-- is not updated; then no order is written and the caller retries (optimistic).
-- Under the pessimistic strategy the rows are locked, so every version matches.
-- The arrays come sorted by product id, so the UPDATE locks rows in id order too:
-- optimistic writers queue on each other in the same order and do not deadlock.
WITH wanted AS (
    SELECT *
    FROM unnest(CAST(:product_ids AS bigint[]), CAST(:quantities AS integer[]),
                CAST(:versions AS integer[]), CAST(:prices AS integer[]))
        AS w (product_id, quantity, version, unit_price_cents)
    ORDER BY w.product_id
), taken AS (
    UPDATE products p
    SET stock = p.stock - w.quantity, version = p.version + 1, updated_at = now()
    FROM wanted w
    WHERE p.id = w.product_id AND p.version = w.version
    RETURNING p.id
), new_order AS (
    INSERT INTO orders (customer_id, total_cents, item_count)
    SELECT :customer_id, :total_cents, (SELECT sum(quantity) FROM wanted)
    WHERE (SELECT count(*) FROM taken) = cardinality(CAST(:product_ids AS bigint[]))
    RETURNING id, public_id, status, total_cents, placed_at
), new_lines AS (
    INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)
    SELECT o.id, w.product_id, w.quantity, w.unit_price_cents
    FROM new_order o CROSS JOIN wanted w
)
SELECT (SELECT count(*) FROM taken) AS taken,
       o.id, o.public_id, o.status, o.total_cents, o.placed_at
FROM (VALUES (1)) AS one (x)
LEFT JOIN new_order o ON true
