"""API tokens: issued once in plain text, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, func, or_, select, update

from app.api.models import ApiToken
from app.db.transactions import DbSession
from app.errors import ProblemError

TOKEN_PREFIX = "sr"


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: DbSession, name: str) -> tuple[ApiToken, str]:
    """Create a token named ``name``; return it with its plain text (shown once)."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValueError("a token name has 1 to 100 characters")
    prefix = secrets.token_hex(4)
    plain = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(name=name, prefix=prefix, token_hash=hash_token(plain))
    session.add(token)
    session.flush()
    return token, plain


# Writing last_used_at on every request would serialise all requests of a token on
# one row; once a minute is enough to tell which tokens are in use.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenRejected(ProblemError):
    """The presented token is not live (unknown or revoked)."""

    status, problem_type, title = 401, "unauthorized", "Unauthorized"

    def __init__(self) -> None:
        super().__init__("Send a valid API token: Authorization: Bearer <token>.")

    def problem_headers(self) -> dict:
        return {"WWW-Authenticate": 'Bearer realm="stockroom"'}


@dataclass(frozen=True)
class Credentials:
    """What an ``Authorization: Bearer`` header names: the token's public prefix and
    the hash of its secret (computed here, so the plain token goes no further)."""

    prefix: str
    token_hash: str


def credentials(authorization: str | None) -> Credentials | None:
    """The credentials in an ``Authorization`` header, or None if it is not a bearer
    token of ours. No database: whether the token is live is another question."""
    scheme, _, plain = (authorization or "").partition(" ")
    plain = plain.strip()
    if scheme.lower() != "bearer" or not plain.startswith(f"{TOKEN_PREFIX}_"):
        return None
    prefix = plain.split("_")[1] if plain.count("_") >= 2 else ""
    return Credentials(prefix, hash_token(plain))


def authenticate(session: DbSession, presented: Credentials | None) -> Row | None:
    """The live token (id, token_hash, last_used_at) these credentials name, or None.
    Columns, not an ORM object: this runs on every request."""
    if presented is None:
        return None
    token = session.execute(
        select(ApiToken.id, ApiToken.token_hash, ApiToken.last_used_at).where(
            ApiToken.prefix == presented.prefix, ApiToken.revoked_at.is_(None)
        )
    ).one_or_none()
    # Compare hashes in constant time, so timing reveals nothing about the secret.
    if token is None or not hmac.compare_digest(token.token_hash, presented.token_hash):
        return None
    return token


def needs_touch(token: Row) -> bool:
    """Whether the token's last use is older than the resolution we keep."""
    return token.last_used_at is None or (
        datetime.now(UTC) - token.last_used_at > LAST_USED_RESOLUTION
    )


def touch(session: DbSession, token_id: int) -> None:
    """Record that the token was used just now (skipped if another request just did)."""
    _record_use(session, ApiToken.id == token_id)


def touch_presented(session: DbSession, presented: Credentials) -> None:
    """:func:`touch` for a token known by its credentials (checked by the request's
    own statement, so its id was never looked up)."""
    _record_use(
        session,
        ApiToken.prefix == presented.prefix,
        ApiToken.token_hash == presented.token_hash,
        ApiToken.revoked_at.is_(None),
    )


def _record_use(session: DbSession, *which) -> None:
    session.execute(
        update(ApiToken)
        .where(
            *which,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at < func.now() - LAST_USED_RESOLUTION,
            ),
        )
        .values(last_used_at=func.now())
    )


class RecentTouches:
    """When this process last recorded each token's use, so requests whose token is
    checked inside their own statement touch it at most once a minute per process
    without reading ``last_used_at`` first."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def note(self, prefix: str) -> None:
        """This process has just recorded (or seen recorded) the token's use."""
        with self._lock:
            self._last[prefix] = time.monotonic()

    def due(self, prefix: str) -> bool:
        """True at most once per resolution per prefix (and then notes it)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(prefix, -math.inf) < LAST_USED_RESOLUTION.total_seconds():
                return False
            if len(self._last) > 10_000:  # bounded: prefixes come from requests
                self._last.clear()
            self._last[prefix] = now
            return True
