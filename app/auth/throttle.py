"""Slowing down repeated failed logins, per email, across all workers.

After ``FREE_FAILURES`` failures an email is locked for 2, 4, 8 ... seconds (at most
``MAX_LOCK_SECONDS``) after each further failure. Nobody's request thread sleeps:
a locked attempt is refused at once without checking the password.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert

from app.auth.models import LoginThrottle
from app.db.transactions import DbSession

FREE_FAILURES = 5
MAX_LOCK_SECONDS = 300


def lock_seconds(failures: int) -> int:
    """How long an email is locked after ``failures`` consecutive failures."""
    if failures < FREE_FAILURES:
        return 0
    return min(2 ** (failures - FREE_FAILURES + 1), MAX_LOCK_SECONDS)


def seconds_locked(session: DbSession, email: str) -> int:
    """Seconds before ``email`` may try again (0: now)."""
    throttle = session.get(LoginThrottle, email)
    if throttle is None:
        return 0
    until = throttle.last_failed_at + timedelta(seconds=lock_seconds(throttle.failures))
    return max(0, int((until - datetime.now(UTC)).total_seconds() + 0.999))


def record_failure(session: DbSession, email: str) -> None:
    """Count a failed login (atomic across concurrent attempts)."""
    statement = insert(LoginThrottle).values(email=email, failures=1, last_failed_at=func.now())
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[LoginThrottle.email],
            set_={"failures": LoginThrottle.failures + 1, "last_failed_at": func.now()},
        )
    )


def record_success(session: DbSession, email: str) -> None:
    """Forget the failures of an email that just logged in."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.email == email))
