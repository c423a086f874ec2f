"""Idempotency-Key handling, stored in PostgreSQL per API token.

- A new key is claimed in its own short transaction (so concurrent requests see
  it), then the order is written and the record completed in one transaction:
  either both happen or neither.
- The same key with the same request replays the stored response; with a
  different request it is refused (422); while the first is still running, 409.
- Client errors that will not change on retry are stored and replayed; conflicts
  and server trouble release the key so the client can retry with it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import cast

from flask import Response, request
from sqlalchemy import CursorResult, delete, func, select, update

from app.api.models import IdempotencyRecord
from app.api.operations import HeaderParameter
from app.api.validation import ValidationFailed
from app.db.sql import query
from app.db.transactions import DbSession
from app.errors import ProblemError

HEADER = "Idempotency-Key"
# Visible ASCII only: keys end up in logs and error messages.
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


class KeyReused(ProblemError):
    """This Idempotency-Key was used for a different request: use a new key."""

    status, problem_type, title = 422, "idempotency-key-reused", "Idempotency-Key reused"

    def problem_detail(self) -> str:
        return "This Idempotency-Key was used for a different request; use a new key."


class KeyInProgress(ProblemError):
    """A request with this Idempotency-Key is still running; retry after Retry-After."""

    status, problem_type, title, retry_after = (
        409,
        "idempotency-in-progress",
        "Request in progress",
        True,
    )

    def problem_detail(self) -> str:
        return "A request with this Idempotency-Key is still being processed; retry shortly."


def parse_key(key: str | None) -> str | None:
    """The request's Idempotency-Key, None without one, 422 if malformed."""
    if key is None:
        return None
    if not re.fullmatch(KEY_PATTERN, key):
        raise ValidationFailed(
            [{"field": HEADER, "message": "must be 1 to 255 visible ASCII characters"}]
        )
    return key


IDEMPOTENCY_KEY = HeaderParameter(
    HEADER,
    "idempotency_key",
    {"type": "string", "pattern": KEY_PATTERN},
    "Same key and same body: the first response is replayed (`Idempotent-Replayed: "
    "true`) and nothing is created twice. The same key with another body is 422; while "
    "the first request runs, 409. Keys are per token and expire.",
    parse_key,
    statuses={422: "Idempotency-Key is not 1 to 255 visible ASCII characters."},
)


def fingerprint(payload: dict) -> str:
    """A hash of what the request asks for: method, path and JSON body."""
    canonical = json.dumps(
        [request.method, request.path, payload], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key (plain values: usable after the commit)."""

    outcome: str  # "claimed", "replay", "mismatch" or "in-progress"
    record_id: int
    status: int | None = None
    headers: dict | None = None
    body: dict | None = None

    def replay(self) -> Response:
        """The stored response, marked as a replay."""
        response = Response(json.dumps(self.body), status=self.status, headers=self.headers)
        response.headers["Idempotent-Replayed"] = "true"
        return response


def claim(
    session: DbSession,
    *,
    token_id: int,
    key: str,
    fingerprint: str,
    ttl_seconds: int,
    lease_seconds: int,
) -> Claim:
    """Claim ``key`` for this request, or say why not."""
    claimed = session.execute(
        query("app.api", "claim_idempotency_key.sql"),
        {
            "token_id": token_id,
            "key": key,
            "fingerprint": fingerprint,
            "ttl_seconds": ttl_seconds,
            "lease_seconds": lease_seconds,
        },
    ).one_or_none()
    if claimed is not None:
        return Claim("claimed", record_id=claimed.id)
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.token_id == token_id, IdempotencyRecord.key == key
        )
    )
    # ON CONFLICT DO UPDATE locked the conflicting row even though its WHERE declined
    # the update, so no other transaction can have removed it since.
    assert record is not None
    if record.request_fingerprint != fingerprint:
        return Claim("mismatch", record_id=record.id)
    if record.state == "completed":
        return Claim(
            "replay",
            record_id=record.id,
            status=record.response_status,
            headers=record.response_headers,
            body=record.response_body,
        )
    return Claim("in-progress", record_id=record.id)


def complete(session: DbSession, record_id: int, response: Response) -> None:
    """Store the response to replay for this key (in the caller's transaction)."""
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(
            state="completed",
            response_status=response.status_code,
            response_headers={
                name: value
                for name, value in response.headers.items()
                if name in ("Content-Type", "Location", "ETag")
            },
            response_body=response.get_json(force=True),
            completed_at=func.now(),
        )
    )


def release(session: DbSession, record_id: int) -> None:
    """Forget a claim whose request failed in a way worth retrying."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == record_id, IdempotencyRecord.state == "running"
        )
    )


def purge_expired(session: DbSession, batch_size: int) -> int:
    """Delete one batch of expired records; returns how many."""
    # A DELETE's result is a CursorResult, which counts the rows.
    result = session.execute(
        query("app.api", "purge_idempotency_records.sql"), {"batch_size": batch_size}
    )
    return cast(CursorResult, result).rowcount
