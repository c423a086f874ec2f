-- Claim an Idempotency-Key for a request. Returns the record's id when this request
-- may go ahead: the key is new, its earlier use has expired, or the same request
-- was left running longer than the lease (its process died). Returns nothing when
-- the key is in use: the caller then reads the record to replay or refuse.
-- Two concurrent claims of one key serialise on the unique index; one wins.
INSERT INTO idempotency_records (token_id, key, request_fingerprint, state, expires_at)
VALUES (:token_id, :key, :fingerprint, 'running',
        now() + make_interval(secs => :ttl_seconds))
ON CONFLICT (token_id, key) DO UPDATE
SET request_fingerprint = excluded.request_fingerprint,
    state = 'running',
    response_status = NULL,
    response_headers = NULL,
    response_body = NULL,
    created_at = now(),
    completed_at = NULL,
    expires_at = excluded.expires_at
WHERE idempotency_records.expires_at < now()
   OR (idempotency_records.state = 'running'
       AND idempotency_records.request_fingerprint = excluded.request_fingerprint
       AND idempotency_records.created_at < now() - make_interval(secs => :lease_seconds))
RETURNING id
