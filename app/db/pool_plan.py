"""How many connections each gunicorn worker's pool may hold.

Every worker has its own SQLAlchemy pool, so the pools together must fit in what
the server allows, minus what is kept free for superusers and operators:

    budget     = max_connections - superuser_reserved_connections
                 - reserved_connections - DB_POOL_RESERVED
    per_worker = budget // (APP_INSTANCES * workers)
    pool_size  = min(threads, per_worker)
    max_overflow = min(per_worker - pool_size, threads)

A gthread worker runs at most ``threads`` requests at once, so ``pool_size =
threads`` connections serve them all; overflow, capped at another ``threads``,
absorbs a request that briefly needs a second connection, without ever letting
the workers together exceed the budget.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import psycopg
from sqlalchemy import Connection, text

from app.db.sql import sql_file


class PoolPlanError(ValueError):
    """No pool plan fits: a worker would get no connection at all."""


@dataclass(frozen=True)
class ServerLimits:
    """The server settings that bound how many connections the app may open."""

    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int = 0


@dataclass(frozen=True)
class PoolPlan:
    """Pool sizes for each worker, with the numbers they were derived from."""

    workers: int
    threads: int
    instances: int
    reserved: int
    server_max_connections: int
    superuser_reserved: int
    server_reserved: int
    budget: int
    per_worker: int
    pool_size: int
    max_overflow: int
    source: str = "gunicorn"

    @property
    def warning(self) -> str | None:
        """Why this plan may make requests wait, if it may."""
        if self.per_worker >= self.threads:
            return None
        return (
            f"each worker gets {self.per_worker} connection(s) for {self.threads} threads: "
            f"requests beyond {self.per_worker} at once per worker wait for a connection "
            f"(workers={self.workers}, instances={self.instances}, "
            f"max_connections={self.server_max_connections}, reserved={self.reserved})"
        )

    @property
    def formula(self) -> str:
        """The computation with this plan's numbers filled in."""
        return (
            f"budget = {self.server_max_connections} max_connections"
            f" - {self.superuser_reserved} superuser_reserved"
            f" - {self.server_reserved} reserved_connections"
            f" - {self.reserved} DB_POOL_RESERVED = {self.budget}; "
            f"per_worker = {self.budget} // ({self.instances} instances x {self.workers} workers)"
            f" = {self.per_worker}; pool_size = min({self.threads} threads, {self.per_worker})"
            f" = {self.pool_size}; max_overflow = {self.max_overflow}"
        )

    @property
    def max_total(self) -> int:
        """The most connections all workers of all instances can hold together."""
        return self.instances * self.workers * (self.pool_size + self.max_overflow)

    def as_dict(self) -> dict:
        """All fields (the contract's keys among them), for JSON."""
        return asdict(self)

    def to_json(self) -> str:
        """Serialise, to hand the plan from the gunicorn master to its workers."""
        return json.dumps(self.as_dict())

    @classmethod
    def from_json(cls, raw: str) -> PoolPlan:
        """Read a plan written by :meth:`to_json`."""
        return cls(**json.loads(raw))


def compute_plan(
    *,
    workers: int,
    threads: int,
    instances: int,
    reserved: int,
    limits: ServerLimits,
    source: str = "gunicorn",
) -> PoolPlan:
    """Size each worker's pool; raise :class:`PoolPlanError` if a worker would get none."""
    if workers < 1 or threads < 1 or instances < 1 or reserved < 0:
        raise PoolPlanError(
            f"workers ({workers}), threads ({threads}) and instances ({instances}) must be "
            f"at least 1 and the reserve ({reserved}) at least 0"
        )
    budget = (
        limits.max_connections
        - limits.superuser_reserved_connections
        - limits.reserved_connections
        - reserved
    )
    per_worker = max(budget, 0) // (instances * workers)
    if per_worker < 1:
        raise PoolPlanError(
            f"refusing to start: {workers} workers x {instances} instance(s) with {threads} "
            f"threads each would get no database connection: max_connections="
            f"{limits.max_connections} - superuser_reserved_connections="
            f"{limits.superuser_reserved_connections} - reserved_connections="
            f"{limits.reserved_connections} - DB_POOL_RESERVED={reserved} leaves {budget}; "
            f"lower WEB_CONCURRENCY, APP_INSTANCES or DB_POOL_RESERVED, or raise max_connections"
        )
    pool_size = min(threads, per_worker)
    return PoolPlan(
        workers=workers,
        threads=threads,
        instances=instances,
        reserved=reserved,
        server_max_connections=limits.max_connections,
        superuser_reserved=limits.superuser_reserved_connections,
        server_reserved=limits.reserved_connections,
        budget=budget,
        per_worker=per_worker,
        pool_size=pool_size,
        max_overflow=min(per_worker - pool_size, threads),
        source=source,
    )


SERVER_LIMITS_SQL = sql_file("app.db", "server_limits.sql")


def read_server_limits(connection) -> ServerLimits:
    """The server's limits, read on an open connection (SQLAlchemy or psycopg)."""
    statement = text(SERVER_LIMITS_SQL) if isinstance(connection, Connection) else SERVER_LIMITS_SQL
    return ServerLimits(*connection.execute(statement).fetchone())


def fetch_server_limits(libpq_url: str, *, connect_timeout: int = 5) -> ServerLimits:
    """Ask the server for its connection limits over a short-lived connection.

    A plain psycopg connection, closed before returning: the gunicorn master calls
    this before forking, and no connection of the master may leak into a worker.
    """
    with psycopg.connect(
        libpq_url, connect_timeout=connect_timeout, application_name="stockroom:pool-plan"
    ) as conn:
        return read_server_limits(conn)


# The gunicorn master hands its plan to the workers through the environment.
PLAN_ENV = "STOCKROOM_POOL_PLAN"


def plan_from_environment() -> PoolPlan | None:
    """The plan the gunicorn master computed, if this process is one of its workers."""
    raw = os.environ.get(PLAN_ENV)
    return PoolPlan.from_json(raw) if raw else None


def single_process_plan(config, limits: ServerLimits) -> PoolPlan:
    """The plan for a process not started by gunicorn (CLI, tests, flask run)."""
    return compute_plan(
        workers=1,
        threads=config["GUNICORN_THREADS"],
        instances=config["APP_INSTANCES"],
        reserved=config["DB_POOL_RESERVED"],
        limits=limits,
        source="single-process",
    )
