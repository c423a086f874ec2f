"""Admin users."""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, DateTime, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.db.columns import BigIntPk, CreatedAt
from app.extensions import Model

# The email column's limits (its CHECK below; the login and admin forms quote them).
EMAIL_MIN, EMAIL_MAX = 3, 320


class AdminUser(UserMixin, Model):
    """An operator who may log in to /admin/ and /reports/."""

    __tablename__ = "admin_users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint(
            f"char_length(email) BETWEEN {EMAIL_MIN} AND {EMAIL_MAX}", name="email_length"
        ),
    )

    id: Mapped[BigIntPk]
    email: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def get_id(self) -> str:
        """Flask-Login's id, kept in the signed session cookie: the user id and a
        fingerprint of the password hash, so a new password (or deleting the admin)
        ends every session opened before it."""
        return f"{self.id}:{self.session_fingerprint()}"

    def session_fingerprint(self) -> str:
        """Changes whenever the password does (scrypt hashes are salted)."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:32]

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash of ``password``."""
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<AdminUser {self.email!r}>"


class LoginThrottle(Model):
    """Failed logins per email, shared by every worker: repeated failures lock the
    email out for a growing while (no sleeping request threads)."""

    __tablename__ = "login_throttles"

    email: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
