"""API tokens: issued once in plain text, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, func, or_, select, update

from app.api.models import ApiToken
from app.db.transactions import DbSession

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


def authenticate(session: DbSession, authorization: str | None) -> Row | None:
    """The live token (id, token_hash, last_used_at) named by an ``Authorization:
    Bearer`` header, or None. Columns, not an ORM object: this runs on every request."""
    scheme, _, plain = (authorization or "").partition(" ")
    plain = plain.strip()
    if scheme.lower() != "bearer" or not plain.startswith(f"{TOKEN_PREFIX}_"):
        return None
    prefix = plain.split("_")[1] if plain.count("_") >= 2 else ""
    token = session.execute(
        select(ApiToken.id, ApiToken.token_hash, ApiToken.last_used_at).where(
            ApiToken.prefix == prefix, ApiToken.revoked_at.is_(None)
        )
    ).one_or_none()
    # Compare hashes in constant time, so timing reveals nothing about the secret.
    if token is None or not hmac.compare_digest(token.token_hash, hash_token(plain)):
        return None
    return token


def needs_touch(token: Row) -> bool:
    """Whether the token's last use is older than the resolution we keep."""
    return token.last_used_at is None or (
        datetime.now(UTC) - token.last_used_at > LAST_USED_RESOLUTION
    )


def touch(session: DbSession, token_id: int) -> None:
    """Record that the token was used just now (skipped if another request just did)."""
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at < func.now() - LAST_USED_RESOLUTION,
            ),
        )
        .values(last_used_at=func.now())
    )
