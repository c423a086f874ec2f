"""API tokens and idempotency records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.columns import BigIntPk, CreatedAt
from app.extensions import Model


class ApiToken(Model):
    """A bearer token for client software; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),)

    id: Mapped[BigIntPk]
    name: Mapped[str] = mapped_column(Text)
    # The token's public prefix finds the row; the hash is then compared in constant time.
    prefix: Mapped[str] = mapped_column(Text, unique=True)
    token_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<ApiToken {self.name!r} {self.prefix}>"


class IdempotencyRecord(Model):
    """The outcome of a request made with an ``Idempotency-Key``, kept to replay it."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("token_id", "key"),
        CheckConstraint("char_length(key) BETWEEN 1 AND 255", name="key_length"),
        CheckConstraint("state IN ('running', 'completed')", name="state_known"),
    )

    id: Mapped[BigIntPk]
    token_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("api_tokens.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(Text)
    request_fingerprint: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[CreatedAt]
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    def __repr__(self) -> str:
        return f"<IdempotencyRecord token={self.token_id} key={self.key!r} {self.state}>"
