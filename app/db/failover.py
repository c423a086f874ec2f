"""Surviving the loss of the primary: a pool drops every connection to a server that
is gone or no longer takes writes, at once.

When the primary shuts down, crashes or is failed over, every connection in a
worker's pool leads to it. SQLAlchemy's ``handle_error`` event sees the first
statement that fails; marking the error a disconnect (``is_disconnect``, with
``invalidate_pool_on_disconnect``) makes SQLAlchemy discard that connection and
every connection the pool opened before now (each is replaced at its next
checkout). New connections try the hosts of a multi-host ``DATABASE_URL`` in order
and keep the first that takes writes (``target_session_attrs=read-write``), so the
app follows a promoted standby without a restart. The request that hit the
failure answers 503 with Retry-After (app/errors.py); its transaction was rolled
back with the connection, so nothing is half-written.

A read-only error (SQLSTATE 25006) drops the pool only when the server itself is
read-only: the connection reports ``in_hot_standby`` (a standby) or
``default_transaction_read_only`` (a primary fenced for a failover) as ``on``,
which PostgreSQL 14+ sends with every change, so telling costs no round trip. A
transaction the app made read-only itself (reports, the EXPLAIN box) is not a
failover.
"""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext

log = logging.getLogger(__name__)

# The server is gone: admin shutdown (a fast stop, or pg_terminate_backend),
# crash shutdown, and "cannot connect now" (starting up or shutting down).
SERVER_GONE = frozenset({"57P01", "57P02", "57P03"})
# read_only_sql_transaction: a write on a standby, or on a read-only server.
READ_ONLY = "25006"
# What a standby (in_hot_standby) or a fenced primary reports to its clients.
READ_ONLY_PARAMETERS = ("in_hot_standby", "default_transaction_read_only")


def sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE of a driver error (or of a SQLAlchemy error wrapping one)."""
    return getattr(getattr(error, "orig", error), "sqlstate", None)


def is_read_only_error(error: BaseException | None) -> bool:
    """Whether a statement failed because its transaction or server is read-only."""
    return sqlstate(error) == READ_ONLY


def server_is_read_only(dbapi_connection: object) -> bool:
    """Whether the server of a psycopg connection says it takes no writes (a standby,
    or ``default_transaction_read_only`` on); False when it does not say (behind
    PgBouncer, which does not pass these on)."""
    info = getattr(dbapi_connection, "info", None)
    if info is None:
        return False
    return any(info.parameter_status(name) == "on" for name in READ_ONLY_PARAMETERS)


def failover_reason(context: ExceptionContext, *, writable: bool = True) -> str | None:
    """Why the error in ``context`` means the pool's server is lost (or, for a
    ``writable`` engine, lost for writes), or None."""
    code = sqlstate(context.original_exception)
    if code in SERVER_GONE:
        return f"the server shut down ({code})"
    if context.is_disconnect and isinstance(
        context.original_exception, context.dialect.loaded_dbapi.Error
    ):
        # (Not an interrupt of this process: SQLAlchemy keeps the pool then.)
        return "the connection to the server was lost"
    if writable and code == READ_ONLY and context.connection is not None:
        try:
            dbapi_connection = context.connection.connection.dbapi_connection
        except Exception:  # invalidated already: nothing to ask
            return None
        if server_is_read_only(dbapi_connection):
            return "the server is read-only (a standby, or a primary being failed over)"
    return None


def install_pool_invalidation(engine: Engine, *, writable: bool = True) -> None:
    """Drop ``engine``'s whole pool when a statement finds its server gone, or (for a
    ``writable`` engine, the primary's) read-only."""

    @event.listens_for(engine, "handle_error")
    def _handle_error(context: ExceptionContext) -> None:
        if context.connection is None or context.is_pre_ping:
            return  # a failed connect or ping: no pooled connection was used
        reason = failover_reason(context, writable=writable)
        if reason is None:
            return
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = True
        log.warning(
            "database %s: %s; every pooled connection opened before now is replaced",
            engine.url.render_as_string(hide_password=True),
            reason,
        )
