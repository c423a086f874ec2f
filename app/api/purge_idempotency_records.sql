-- Delete one batch of expired idempotency records (short transactions, no long locks).
DELETE FROM idempotency_records
WHERE id IN (
    SELECT id FROM idempotency_records
    WHERE expires_at < now()
    ORDER BY expires_at
    LIMIT :batch_size
)
