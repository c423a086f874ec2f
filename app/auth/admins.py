"""Creating admin users. Functions take the session and never commit."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.auth.models import EMAIL_MAX, EMAIL_MIN, AdminUser
from app.db.transactions import DbSession

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


class AdminUserError(ValueError):
    """The email or password cannot be used."""


def normalize_email(email: str) -> str:
    """Trim and lower-case an email address, or raise :class:`AdminUserError`."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email) or not EMAIL_MIN <= len(email) <= EMAIL_MAX:
        raise AdminUserError(f"{email!r} is not an email address")
    return email


def check_password_strength(password: str) -> None:
    """Reject passwords too short to be worth hashing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminUserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def find_admin(session: DbSession, email: str) -> AdminUser | None:
    """The admin with this email (any case), if any."""
    return session.scalar(select(AdminUser).where(AdminUser.email == normalize_email(email)))


def set_admin_password(session: DbSession, email: str, password: str) -> tuple[AdminUser, bool]:
    """Create the admin, or set a new password on an existing one; True if created."""
    check_password_strength(password)
    user = find_admin(session, email)
    created = user is None
    if user is None:
        user = AdminUser(email=normalize_email(email))
        session.add(user)
    user.set_password(password)
    session.flush()
    return user, created
