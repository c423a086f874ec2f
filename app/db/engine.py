"""Engine settings: pool sizes from the plan, per-connection limits and names, and
the direct engine for work that must not go through a pooler."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg
from flask import current_app
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import (
    ConnectionPoolEntry,
    NullPool,
    Pool,
    PoolProxiedConnection,
    QueuePool,
)

from app.db.failover import install_pool_invalidation
from app.db.pool_plan import PoolPlan
from app.db.transaction_limits import connect_with_limits, startup_options, web_limits

PGBOUNCER = "pgbouncer"
# Run before each new connection is opened (the embedded server's start, say).
BeforeConnect = Callable[[], object]
# Engines of these roles read from a standby on purpose (REPORTS_DATABASE_URL): a
# read-only server is no reason to drop their pools.
READ_ONLY_ROLES = frozenset({"reports"})
# PostgreSQL keeps the first NAMEDATALEN - 1 bytes of application_name.
APPLICATION_NAME_BYTES = 63

# The role a direct connection opened in this context names itself with
# (``migrate`` while migrations run, ``seed`` while seeding).
_connection_role: ContextVar[str | None] = ContextVar("stockroom_connection_role", default=None)


def engine_options(
    config: dict,
    plan: PoolPlan | None,
    *,
    pooler: str = "none",
    poolclass: type[Pool] = QueuePool,
) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS for this process.

    Under gunicorn the pool is sized by the master's plan; elsewhere (CLI, tests,
    ``flask run``) a single process gets one connection per thread plus as many
    again in overflow. Behind PgBouncer (transaction pooling) no startup options and
    no server-side prepared statements: the limits travel with each transaction
    (see :mod:`app.db.transaction_limits`). ``poolclass``: the monitoring's
    instrumented pool, given by the app factory.
    """
    threads = config["GUNICORN_THREADS"]
    pool_size = plan.pool_size if plan else threads
    max_overflow = plan.max_overflow if plan else threads
    connect_args: dict = {"connect_timeout": config["DB_CONNECT_TIMEOUT"]}
    if pooler == PGBOUNCER:
        # The next transaction may run on another server connection, where a
        # statement prepared on this one does not exist.
        connect_args["prepare_threshold"] = None
    else:
        # Set once per connection at connect time: no round trip, nothing changed
        # on the server.
        connect_args["options"] = startup_options(web_limits(config))
    return {
        "poolclass": poolclass,
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": config["DB_POOL_TIMEOUT"],
        "pool_recycle": config["DB_POOL_RECYCLE"],
        # Pinged only after idling (install_idle_ping): under load a round trip saved
        # per request.
        "pool_pre_ping": False,
        "connect_args": connect_args,
    }


def application_name(role: str, instance: str, pid: int | None = None) -> str:
    """``stockroom:<role>:<instance>:<pid>``, the name a connection shows in
    ``pg_stat_activity``; a long instance name is cut so the pid survives."""
    head, tail = f"stockroom:{role}:", f":{pid or os.getpid()}"
    room = APPLICATION_NAME_BYTES - len(head.encode()) - len(tail.encode())
    return head + instance.encode()[: max(room, 0)].decode(errors="ignore") + tail


def install_idle_ping(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only if it sat idle longer than
    ``idle_seconds`` (SQLAlchemy's ``pool_pre_ping`` pings every checkout: a round
    trip per request). A connection used more recently is trusted; if the server
    went away meanwhile its statement fails as a disconnect, SQLAlchemy invalidates
    it and every older connection of the pool, and the request answers 503."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info["stockroom_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(
        dbapi_connection: DBAPIConnection,
        record: ConnectionPoolEntry,
        proxy: PoolProxiedConnection,
    ) -> None:
        since = record.info.get("stockroom_idle_since")
        if since is None or time.monotonic() - since <= idle_seconds:
            return  # just connected, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # The pool discards this connection and checks out another.
                raise DisconnectionError(str(error)) from error
            raise


def install_connect_hooks(
    engine: Engine,
    *,
    role: str,
    instance: str,
    before_connect: BeforeConnect | None,
    transaction_limits: dict[str, str] | None = None,
    ping_idle_seconds: float = 0.0,
) -> None:
    """Name every new connection, run ``before_connect`` first (the embedded
    server's start), ping idle connections (:func:`install_idle_ping`), drop the
    whole pool when its server is gone or (but for a reports engine) read-only
    (:mod:`app.db.failover`), and (behind a pooler) open connections whose
    transactions carry ``transaction_limits``."""
    install_idle_ping(engine, ping_idle_seconds)
    install_pool_invalidation(engine, writable=role not in READ_ONLY_ROLES)

    @event.listens_for(engine, "do_connect")
    def _connect(
        dialect: Dialect,
        conn_rec: ConnectionPoolEntry,
        cargs: tuple[Any, ...],
        cparams: dict[str, Any],
    ) -> psycopg.Connection | None:
        # Evaluated per connection, so a forked worker names connections with its own pid.
        cparams["application_name"] = application_name(_connection_role.get() or role, instance)
        if before_connect is not None:
            before_connect()
        if transaction_limits is not None:
            return connect_with_limits(transaction_limits, *cargs, **cparams)
        return None


@contextmanager
def connection_role(role: str) -> Iterator[None]:
    """Direct connections opened inside the block name themselves ``role``."""
    token = _connection_role.set(role)
    try:
        yield
    finally:
        _connection_role.reset(token)


def build_direct_engine(config: dict, *, role: str, before_connect: BeforeConnect | None) -> Engine:
    """An engine for migrations, seeding, EXPLAIN and the server's limits.

    It uses DATABASE_DIRECT_URL when set (past the pooler, to PostgreSQL itself),
    else the primary URL. One connection per use (no pool): these are occasional.
    No web limits: each of these sets its own.
    """
    url = config["DATABASE_DIRECT_URL"] or config["SQLALCHEMY_DATABASE_URI"]
    connect_args: dict = {"connect_timeout": config["DB_CONNECT_TIMEOUT"]}
    if through_pooler(config):
        connect_args["prepare_threshold"] = None
    else:
        # A killed migration or seed releases its locks within a second. Sent as a
        # startup option, it also makes a pooler refuse the connection (with our hint
        # to set DB_POOLER) before any session setting could leak through it.
        connect_args["options"] = "-c client_connection_check_interval=1000"
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    install_connect_hooks(
        engine, role=role, instance=config["INSTANCE_NAME"], before_connect=before_connect
    )
    return engine


def limits_per_transaction(config: dict) -> bool:
    """Whether the app's connections get their limits (statement and lock timeouts)
    from each transaction's ``BEGIN`` (behind PgBouncer) rather than at connect: a
    statement run in autocommit there would run without them."""
    return config["DB_POOLER"] == PGBOUNCER


def through_pooler(config: dict) -> bool:
    """Whether the direct engine still goes through a transaction-mode pooler
    (DB_POOLER=pgbouncer without DATABASE_DIRECT_URL)."""
    return config["DB_POOLER"] == PGBOUNCER and not config["DATABASE_DIRECT_URL"]


def direct_engine() -> Engine:
    """The current app's direct engine (see :func:`build_direct_engine`)."""
    return current_app.extensions["stockroom.direct_engine"]
