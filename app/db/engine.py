"""Engine settings: pool sizes from the plan, per-connection timeouts and names."""

from __future__ import annotations

import os

from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.db.embedded import AutoStart
from app.db.instrumentation import InstrumentedQueuePool
from app.db.pool_plan import PoolPlan


def engine_options(config: dict, plan: PoolPlan | None) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS for this process.

    Under gunicorn the pool is sized by the master's plan; elsewhere (CLI, tests,
    ``flask run``) a single process gets one connection per thread plus as many
    again in overflow.
    """
    threads = config["GUNICORN_THREADS"]
    pool_size = plan.pool_size if plan else threads
    max_overflow = plan.max_overflow if plan else threads
    # Set per connection at connect time (no extra round trip, nothing changed on
    # the server): web requests must not hold locks or run queries unbounded.
    options = (
        f"-c statement_timeout={config['DB_STATEMENT_TIMEOUT_MS']}"
        f" -c lock_timeout={config['DB_LOCK_TIMEOUT_MS']}"
        f" -c idle_in_transaction_session_timeout={config['DB_IDLE_IN_TRANSACTION_TIMEOUT_MS']}"
        # A worker killed mid-query: the server notices the closed socket within a
        # second and rolls back, instead of holding locks until the query ends.
        " -c client_connection_check_interval=1000"
    )
    return {
        "poolclass": InstrumentedQueuePool,
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": config["DB_POOL_TIMEOUT"],
        "pool_recycle": config["DB_POOL_RECYCLE"],
        "pool_pre_ping": True,
        "connect_args": {"connect_timeout": config["DB_CONNECT_TIMEOUT"], "options": options},
    }


def application_name(role: str) -> str:
    """The name a connection shows in ``pg_stat_activity``: app, role and process id."""
    return f"stockroom:{role}:{os.getpid()}"


def install_connect_hooks(engine: Engine, *, role: str, autostart: AutoStart | None) -> None:
    """Name every new connection after this process and start the embedded server if needed."""

    @event.listens_for(engine, "do_connect")
    def _before_connect(dialect, conn_rec, cargs, cparams):
        # Evaluated per connection, so a forked worker names connections with its own pid.
        cparams["application_name"] = application_name(role)
        if autostart is not None:
            autostart.ensure_running()
