"""Customers."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, Index, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.columns import BigIntPk, CreatedAt, UpdatedAt
from app.extensions import Model

REGIONS = ("north-america", "latin-america", "europe", "africa", "middle-east", "asia-pacific")
# Limits of the columns, enforced by the CHECKs below and quoted by forms and the API.
EMAIL_MIN, EMAIL_MAX = 3, 320
NAME_MAX = 200


class Customer(Model):
    """A buyer. ``public_id`` is the id shown outside; ``email`` is stored lower-cased."""

    __tablename__ = "customers"
    __table_args__ = (
        # Lower-case storage makes the plain unique index case-insensitive.
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint(
            f"char_length(email) BETWEEN {EMAIL_MIN} AND {EMAIL_MAX}", name="email_length"
        ),
        CheckConstraint(f"char_length(name) BETWEEN 1 AND {NAME_MAX}", name="name_length"),
        CheckConstraint("char_length(region) BETWEEN 1 AND 64", name="region_length"),
        # The admin's search (ILIKE '%term%') finds rare terms by trigram index.
        Index(
            "ix_customers_email_trgm",
            "email",
            postgresql_using="gin",
            postgresql_ops={"email": "gin_trgm_ops"},
        ),
        Index(
            "ix_customers_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    id: Mapped[BigIntPk]
    public_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, unique=True, server_default=text("gen_random_uuid()")
    )
    email: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(Text, index=True)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.email!r}>"
