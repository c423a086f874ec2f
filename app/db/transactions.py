"""The one place that commits: run a unit of work, retry it when the database says
a concurrent transaction got in the way, roll back on anything else.

Web requests and CLI commands alike commit through :func:`run_in_transaction`;
services take the session and never commit. The one exception is the seed's bulk
load, which runs ``COPY`` on the driver connection and commits that connection
itself (app/seed/cli.py)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session

from app.db.errors import ConflictPersists, LockWaitTimeout

T = TypeVar("T")

# What the services take: a plain Session (scripts, tests) or Flask-SQLAlchemy's
# request-scoped ``db.session``, which proxies the same methods.
DbSession: TypeAlias = Session | scoped_session[FlaskSession]

DEADLOCK = "40P01"
SERIALIZATION_FAILURE = "40001"
LOCK_NOT_AVAILABLE = "55P03"
RETRYABLE_SQLSTATES = frozenset({DEADLOCK, SERIALIZATION_FAILURE})


class RetryableConflict(Exception):
    """Raised by a unit of work when it lost a race and should run again
    (an optimistic version check failed, say)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how patiently, to rerun a conflicting unit of work."""

    attempts: int = 5
    base_delay: float = 0.005
    max_delay: float = 0.2

    def delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff, so retrying clients spread out."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, if it carries one."""
    return getattr(getattr(error, "orig", None), "sqlstate", None)


def _autocommit(session: DbSession) -> None:
    """Check out the session's connection in autocommit mode (SQLAlchemy resets it
    when the connection goes back to the pool)."""
    current = session() if isinstance(session, scoped_session) else session
    if isinstance(current.get_bind(), Engine) and not current.in_transaction():
        current.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def run_in_transaction(
    session: DbSession,
    work: Callable[[DbSession], T],
    *,
    retry: RetryPolicy | None = None,
    on_retry: Callable[[str], None] | None = None,
    single_statement: bool = False,
) -> T:
    """Run ``work(session)`` and commit once; roll back if it raises.

    ``single_statement``: the work writes with one statement and sends nothing after
    it (only reads before, or to explain a refusal). Each statement then runs in
    autocommit: the server commits the write in the round trip that sends it, so
    the rows it locks are released without waiting for the client's ``COMMIT``
    (under a hot row, that wait is most of the lock's hold time). A session joined
    to an outer transaction (the tests' harness) runs the work in it as usual.

    With a ``retry`` policy, deadlocks, serialization failures and
    :class:`RetryableConflict` roll back and run the work again after a jittered
    pause; when the attempts run out, :class:`ConflictPersists` is raised. A lock
    wait that exceeds ``lock_timeout`` is not retried: it becomes
    :class:`LockWaitTimeout` at once (the lock is held by something slow).
    """
    attempts = retry.attempts if retry else 1
    for attempt in range(attempts):
        try:
            if single_statement:
                _autocommit(session)
            result = work(session)
            session.commit()
            return result
        except RetryableConflict as error:
            session.rollback()
            reason = str(error) or "a concurrent change"
        except DBAPIError as error:
            session.rollback()
            code = sqlstate(error)
            if code == LOCK_NOT_AVAILABLE:
                raise LockWaitTimeout(str(error.orig).strip()) from error
            if code not in RETRYABLE_SQLSTATES or retry is None:
                raise
            reason = "deadlock" if code == DEADLOCK else "serialization failure"
        except BaseException:
            session.rollback()
            raise
        if on_retry:
            on_retry(reason)
        if retry is not None and attempt + 1 < attempts:
            time.sleep(retry.delay(attempt))
    raise ConflictPersists(reason, attempts)
