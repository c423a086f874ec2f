"""API tokens: issued once in plain text, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.orm import Session

from app.api.models import ApiToken

TOKEN_PREFIX = "sr"


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, name: str) -> tuple[ApiToken, str]:
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
