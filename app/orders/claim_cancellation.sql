-- Mark a placed order cancelled. Concurrent cancels queue on the order's row lock;
-- the later one re-checks status = 'placed', finds it cancelled and updates nothing,
-- so stock is restored exactly once.
UPDATE orders
SET status = 'cancelled', cancelled_at = now(), cancelled_by_id = :cancelled_by,
    version = version + 1, updated_at = now()
WHERE public_id = :public_id AND status = 'placed'
RETURNING id
