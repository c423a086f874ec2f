"""The database layer's own errors (what the HTTP side answers for them is in
app/errors.py), and one-line explanations of connection failures, with the fix
where it is known."""

from __future__ import annotations

# What PgBouncer answers to the startup ``options`` of a direct-mode connection.
POOLER_REFUSAL = "unsupported startup parameter"


def first_line(error: BaseException) -> str:
    """The first non-empty line of a (database) error's message."""
    message = str(getattr(error, "orig", None) or error).strip()
    return next((line.strip() for line in message.splitlines() if line.strip()), repr(error))


def connection_failure(error: BaseException, config: dict | None = None) -> str:
    """Why a connection failed, in one line; a pooler's refusal says what to set."""
    message = str(getattr(error, "orig", None) or error)
    first = first_line(error)
    if POOLER_REFUSAL not in message:
        return first
    if config is not None and config["DB_POOLER"] == "pgbouncer":
        return (
            f"{first}: this connection should be direct but leads to a pooler; point "
            f"DATABASE_DIRECT_URL at PostgreSQL itself, not at PgBouncer"
        )
    return (
        f"{first}: the database URL leads to a connection pooler in transaction mode "
        f"(PgBouncer); set DB_POOLER=pgbouncer"
    )


class ConflictPersists(Exception):
    """Concurrent requests kept changing the same rows; retry after Retry-After."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(f"{reason} (after {attempts} attempts)")
        self.reason = reason
        self.attempts = attempts


class LockWaitTimeout(Exception):
    """A row this request needs stayed locked past the lock timeout; retry after
    Retry-After."""
