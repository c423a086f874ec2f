"""How many connections each gunicorn worker's pool may hold.

Every worker has its own SQLAlchemy pool, so the pools together must fit in what
the server allows, minus what is kept free for superusers and operators:

    budget     = max_connections - superuser_reserved_connections
                 - reserved_connections - DB_POOL_RESERVED
    per_worker = (budget - APP_INSTANCES * JOBS_POOL_SIZE) // (APP_INSTANCES * workers)
    pool_size  = min(threads, per_worker)
    max_overflow = min(per_worker - pool_size, threads)

A gthread worker runs at most ``threads`` requests at once, so ``pool_size =
threads`` connections serve them all; overflow, capped at another ``threads``,
absorbs a request that briefly needs a second connection, without ever letting
the workers together exceed the budget. Each instance also runs one jobs process
(``flask jobs run``) with a pool of its own, JOBS_POOL_SIZE connections without
overflow, taken from the budget before the workers share it.

Behind PgBouncer (``DB_POOLER=pgbouncer``) the plan has two tiers. The app's pools
connect to the bouncer, so they are sized against its ``max_client_conn``:

    per_worker = (max_client_conn - APP_INSTANCES * JOBS_POOL_SIZE)
                 // (APP_INSTANCES * workers)                     (then as above)

and the bouncer's server pools (``pool_size + reserve_pool_size`` per database
and user) must fit in the server's budget (the same formula as above). The app
refuses to start when its own tier cannot fit and warns when the bouncer's
cannot. The plan assumes one bouncer shared by all instances.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import psycopg
from psycopg.rows import TupleRow
from sqlalchemy import Connection, text

from app.db.sql import sql_file


class PoolPlanError(ValueError):
    """No pool plan fits: a worker would get no connection at all."""


# Each worker's reports engine (REPORTS_DATABASE_URL): pool_size, and as many again
# in overflow. Counted against the reports server's own max_connections.
REPORTS_POOL_SIZE = 2
# The jobs process of each instance: one connection for the job it runs, one for its
# monitoring report; no overflow.
JOBS_POOL_SIZE = 2
# The jobs process's role (APP_ROLE): its pool above, its connections' name.
JOBS_ROLE = "jobs"


@dataclass(frozen=True)
class ServerLimits:
    """The server settings that bound how many connections the app may open."""

    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int = 0


@dataclass(frozen=True)
class BouncerLimits:
    """PgBouncer's limits, as far as the app can learn them (None: unknown)."""

    max_client_conn: int | None = None
    # Server connections per (database, user) pool, and the reserve it may add.
    pool_size: int | None = None
    reserve_pool_size: int | None = None
    # 0 in PgBouncer means unlimited; kept as None here.
    max_db_connections: int | None = None
    source: str = "unknown"  # admin-console, environment or unknown
    error: str | None = None  # why the admin console could not be read

    @property
    def server_connections(self) -> int | None:
        """The most server connections the bouncer opens for our database and user."""
        if self.pool_size is None:
            return None
        total = self.pool_size + (self.reserve_pool_size or 0)
        return min(total, self.max_db_connections) if self.max_db_connections else total


@dataclass(frozen=True)
class PoolerPlan:
    """The bouncer tier of a two-tier plan (the contract's ``pool.pooler``)."""

    kind: str
    max_client_conn: int | None
    server_pool_size: int | None
    reserve_pool_size: int | None
    app_connections: int
    server_budget: int | None
    source: str
    warnings: tuple[str, ...] = ()
    server_connections: int | None = None

    def as_dict(self) -> dict:
        """The contract's keys (and the effective server connections), for JSON."""
        return asdict(self) | {"warnings": list(self.warnings)}


@dataclass(frozen=True)
class PoolPlan:
    """Pool sizes for each worker, with the numbers they were derived from.

    Directly connected, ``budget`` is the server's; behind a pooler it is the
    bouncer's ``max_client_conn`` (None when unknown) and ``pooler`` holds the
    server tier.
    """

    workers: int
    threads: int
    instances: int
    reserved: int
    server_max_connections: int | None
    superuser_reserved: int | None
    server_reserved: int | None
    budget: int | None
    per_worker: int | None
    pool_size: int
    max_overflow: int
    source: str = "gunicorn"
    pooler: PoolerPlan | None = None
    # REPORTS_DATABASE_URL: each worker's reports pool (pool_size + max_overflow),
    # all of them together, and the reports server's budget (None: not read).
    reports_pool: int = field(default=0)
    reports_connections: int = 0
    reports_budget: int | None = None
    reports_warnings: tuple[str, ...] = ()
    # Each instance's jobs process pool, taken from the budget before the workers'.
    jobs_pool: int = JOBS_POOL_SIZE

    @property
    def warnings(self) -> tuple[str, ...]:
        """Why this plan may make requests wait or cannot be checked."""
        if self.pooler is not None:
            return (*self.pooler.warnings, *self.reports_warnings)
        if self.per_worker is None or self.per_worker >= self.threads:
            return self.reports_warnings
        return (
            f"each worker gets {self.per_worker} connection(s) for {self.threads} threads: "
            f"requests beyond {self.per_worker} at once per worker wait for a connection "
            f"(workers={self.workers}, instances={self.instances}, "
            f"max_connections={self.server_max_connections}, reserved={self.reserved})",
            *self.reports_warnings,
        )

    @property
    def warning(self) -> str | None:
        """All warnings in one line, or None."""
        return "; ".join(self.warnings) or None

    @property
    def formula(self) -> str:
        """The computation with this plan's numbers filled in."""
        if self.pooler is not None:
            bouncer = self.pooler
            app_tier = (
                f"per_worker = ({bouncer.max_client_conn} max_client_conn - {self.instances} x "
                f"{self.jobs_pool} jobs) // ({self.instances} instances x {self.workers} "
                f"workers) = {self.per_worker}"
                if self.per_worker is not None
                else "max_client_conn unknown"
            )
            return (
                f"app tier: {app_tier}; pool_size = {self.pool_size}; max_overflow = "
                f"{self.max_overflow}; at most {self.max_total} client connections. "
                f"server tier: PgBouncer pool {_unknown(bouncer.server_pool_size)} + reserve "
                f"{_unknown(bouncer.reserve_pool_size)} vs server budget = "
                f"{self._server_budget_formula()}"
            )
        return (
            f"budget = {self._server_budget_formula()}; "
            f"per_worker = ({self.budget} - {self.instances} x {self.jobs_pool} jobs) // "
            f"({self.instances} instances x {self.workers} workers)"
            f" = {self.per_worker}; pool_size = min({self.threads} threads, {self.per_worker})"
            f" = {self.pool_size}; max_overflow = {self.max_overflow}"
        )

    def _server_budget_formula(self) -> str:
        if self.server_max_connections is None:
            return "unknown (server limits not read)"
        budget = self.pooler.server_budget if self.pooler else self.budget
        return (
            f"{self.server_max_connections} max_connections"
            f" - {self.superuser_reserved} superuser_reserved"
            f" - {self.server_reserved} reserved_connections"
            f" - {self.reserved} DB_POOL_RESERVED = {budget}"
        )

    @property
    def max_total(self) -> int:
        """The most connections all workers of all instances can hold together."""
        return self.instances * self.workers * (self.pool_size + self.max_overflow)

    @property
    def jobs_connections(self) -> int:
        """The most connections the jobs processes of all instances hold together."""
        return self.instances * self.jobs_pool

    def as_dict(self) -> dict:
        """All fields (the contract's keys among them), for JSON."""
        return asdict(self) | {
            "pooler": self.pooler.as_dict() if self.pooler else None,
            "reports_warnings": list(self.reports_warnings),
        }

    def to_json(self) -> str:
        """Serialise, to hand the plan from the gunicorn master to its workers."""
        return json.dumps(self.as_dict())

    @classmethod
    def from_dict(cls, data: dict) -> PoolPlan:
        """Read a plan written by :meth:`as_dict` (extra keys, such as the live
        ``worker`` of /readyz, are ignored)."""
        known = {name for name in cls.__dataclass_fields__}
        values = {key: value for key, value in data.items() if key in known}
        values["reports_warnings"] = tuple(values.get("reports_warnings", ()))
        if values.get("pooler"):
            pooler = dict(values["pooler"])
            pooler["warnings"] = tuple(pooler.get("warnings", ()))
            values["pooler"] = PoolerPlan(**pooler)
        return cls(**values)

    @classmethod
    def from_json(cls, raw: str) -> PoolPlan:
        """Read a plan written by :meth:`to_json`."""
        return cls.from_dict(json.loads(raw))


def _unknown(value: object) -> str:
    return "unknown" if value is None else str(value)


def server_budget(limits: ServerLimits, reserved: int) -> int:
    """Connections the server allows the app: max_connections minus what is kept free."""
    return (
        limits.max_connections
        - limits.superuser_reserved_connections
        - limits.reserved_connections
        - reserved
    )


def _check_counts(workers: int, threads: int, instances: int, reserved: int) -> None:
    if workers < 1 or threads < 1 or instances < 1 or reserved < 0:
        raise PoolPlanError(
            f"workers ({workers}), threads ({threads}) and instances ({instances}) must be "
            f"at least 1 and the reserve ({reserved}) at least 0"
        )


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
    _check_counts(workers, threads, instances, reserved)
    budget = server_budget(limits, reserved)
    per_worker = max(budget - instances * JOBS_POOL_SIZE, 0) // (instances * workers)
    if per_worker < 1:
        raise PoolPlanError(
            f"refusing to start: {workers} workers x {instances} instance(s) with {threads} "
            f"threads each would get no database connection: max_connections="
            f"{limits.max_connections} - superuser_reserved_connections="
            f"{limits.superuser_reserved_connections} - reserved_connections="
            f"{limits.reserved_connections} - DB_POOL_RESERVED={reserved} leaves {budget}, "
            f"{instances} x {JOBS_POOL_SIZE} of them for the jobs process(es); "
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


def compute_pooled_plan(
    *,
    workers: int,
    threads: int,
    instances: int,
    reserved: int,
    limits: ServerLimits | None,
    bouncer: BouncerLimits,
    source: str = "gunicorn",
) -> PoolPlan:
    """The two-tier plan behind PgBouncer (see the module docstring).

    Raises :class:`PoolPlanError` when the app tier cannot fit; every other problem
    (the server tier does not fit, a number is unknown) is a warning in the plan.
    """
    _check_counts(workers, threads, instances, reserved)
    warnings: list[str] = []
    if bouncer.error:
        warnings.append(f"PgBouncer's admin console could not be read: {bouncer.error}")
    if bouncer.max_client_conn is None:
        per_worker = None
        pool_size = max_overflow = threads
        if bouncer.pool_size is None:
            warnings.append(
                "the pool plan cannot be checked: PgBouncer's limits are unknown; set "
                "DB_POOLER_ADMIN_URL (its admin console) or PGBOUNCER_MAX_CLIENT_CONN and "
                "PGBOUNCER_POOL_SIZE; meanwhile pool_size = max_overflow = threads"
            )
        else:
            warnings.append(
                "the app tier cannot be checked: PgBouncer's max_client_conn is unknown; "
                "set DB_POOLER_ADMIN_URL or PGBOUNCER_MAX_CLIENT_CONN; meanwhile "
                "pool_size = max_overflow = threads"
            )
    else:
        clients = bouncer.max_client_conn - instances * JOBS_POOL_SIZE
        per_worker = max(clients, 0) // (instances * workers)
        if per_worker < 1:
            raise PoolPlanError(
                f"refusing to start: {workers} workers x {instances} instance(s) with "
                f"{threads} threads each would get no connection to PgBouncer: "
                f"(max_client_conn={bouncer.max_client_conn} - {instances} x {JOBS_POOL_SIZE} "
                f"for the jobs process(es)) // ({instances} x {workers}) = 0; "
                f"lower WEB_CONCURRENCY or APP_INSTANCES, or raise PgBouncer's max_client_conn"
            )
        pool_size = min(threads, per_worker)
        max_overflow = min(per_worker - pool_size, threads)
        if per_worker < threads:
            warnings.append(
                f"each worker gets {per_worker} PgBouncer connection(s) for {threads} threads "
                f"(max_client_conn={bouncer.max_client_conn}, workers={workers}, "
                f"instances={instances}): requests beyond {per_worker} at once per worker wait"
            )
    budget = server_budget(limits, reserved) if limits else None
    server_connections = bouncer.server_connections
    if server_connections is None:
        if bouncer.max_client_conn is not None:
            warnings.append(
                "the server tier cannot be checked: PgBouncer's pool size is unknown; set "
                "DB_POOLER_ADMIN_URL or PGBOUNCER_POOL_SIZE (and PGBOUNCER_RESERVE_POOL_SIZE)"
            )
    elif limits is not None and budget is not None and server_connections > budget:
        warnings.append(
            f"PgBouncer may open {server_connections} server connections (pool_size "
            f"{bouncer.pool_size} + reserve_pool_size {bouncer.reserve_pool_size or 0}) but the "
            f"server allows {budget} (max_connections {limits.max_connections} - "
            f"{limits.superuser_reserved_connections} superuser_reserved - "
            f"{limits.reserved_connections} reserved_connections - {reserved} "
            f"DB_POOL_RESERVED): lower PgBouncer's default_pool_size/reserve_pool_size or "
            f"raise max_connections"
        )
    app_connections = instances * (workers * (pool_size + max_overflow) + JOBS_POOL_SIZE)
    return PoolPlan(
        workers=workers,
        threads=threads,
        instances=instances,
        reserved=reserved,
        server_max_connections=limits.max_connections if limits else None,
        superuser_reserved=limits.superuser_reserved_connections if limits else None,
        server_reserved=limits.reserved_connections if limits else None,
        budget=bouncer.max_client_conn,
        per_worker=per_worker,
        pool_size=pool_size,
        max_overflow=max_overflow,
        source=source,
        pooler=PoolerPlan(
            kind="pgbouncer",
            max_client_conn=bouncer.max_client_conn,
            server_pool_size=bouncer.pool_size,
            reserve_pool_size=bouncer.reserve_pool_size,
            app_connections=app_connections,
            server_budget=budget,
            source=bouncer.source,
            warnings=tuple(warnings),
            server_connections=server_connections,
        ),
    )


def plan_for_config(
    config: dict,
    *,
    workers: int,
    threads: int,
    limits: ServerLimits | None,
    bouncer: BouncerLimits | None = None,
    source: str = "gunicorn",
) -> PoolPlan:
    """The plan for this configuration: two tiers behind a pooler, else one."""
    common = {
        "workers": workers,
        "threads": threads,
        "instances": config["APP_INSTANCES"],
        "reserved": config["DB_POOL_RESERVED"],
        "source": source,
    }
    if config["DB_POOLER"] == "pgbouncer":
        plan = compute_pooled_plan(limits=limits, bouncer=bouncer or BouncerLimits(), **common)
    else:
        assert limits is not None, "without a pooler the plan needs the server's limits"
        plan = compute_plan(limits=limits, **common)
    if config.get("REPORTS_DATABASE_URL"):
        plan = replace(
            plan,
            reports_pool=REPORTS_POOL_SIZE * 2,
            reports_connections=plan.instances * workers * REPORTS_POOL_SIZE * 2,
        )
    return plan


def check_reports_server(
    plan: PoolPlan, limits: ServerLimits | None, *, error: str | None = None
) -> PoolPlan:
    """Count the reports pools against the reports server's own max_connections
    (a replica has its own), warning when they cannot fit or it cannot be read."""
    if not plan.reports_pool:
        return plan
    if limits is None:
        return replace(
            plan,
            reports_warnings=(
                f"the reports database's limits could not be read ({error}); reports fall "
                f"back to the primary while it cannot be reached",
            ),
        )
    budget = server_budget(limits, plan.reserved)
    warnings: tuple[str, ...] = ()
    if plan.reports_connections > budget:
        warnings = (
            f"the reports pools may open {plan.reports_connections} connections "
            f"({plan.instances} instance(s) x {plan.workers} workers x {plan.reports_pool}) "
            f"but the reports server allows {budget} (max_connections "
            f"{limits.max_connections} - {limits.superuser_reserved_connections} - "
            f"{limits.reserved_connections} - {plan.reserved} DB_POOL_RESERVED): raise its "
            f"max_connections or lower WEB_CONCURRENCY",
        )
    return replace(plan, reports_budget=budget, reports_warnings=warnings)


SERVER_LIMITS_SQL = sql_file("app.db", "server_limits.sql")


def read_server_limits(connection: Connection | psycopg.Connection[TupleRow]) -> ServerLimits:
    """The server's limits, read on an open connection (SQLAlchemy or psycopg)."""
    row: Sequence[int] | None  # the settings, in ServerLimits' order
    if isinstance(connection, Connection):
        row = connection.execute(text(SERVER_LIMITS_SQL)).fetchone()
    else:
        row = connection.execute(SERVER_LIMITS_SQL).fetchone()
    if row is None:  # it reads settings: one row, always
        raise RuntimeError("server_limits.sql returned no row")
    return ServerLimits(*row)


def fetch_server_limits(
    libpq_url: str,
    *,
    connect_timeout: int = 5,
    application_name: str = "stockroom:pool-plan",
    options: str | None = None,
) -> ServerLimits:
    """Ask the server for its connection limits over a short-lived connection.

    A plain psycopg connection, closed before returning: the gunicorn master calls
    this before forking, and no connection of the master may leak into a worker.
    ``options``: the startup options the workers will send (a pooler that refuses
    them refuses this connection too, before any worker starts).
    """
    # prepare_threshold=None: the URL may lead through a transaction-mode pooler.
    with psycopg.connect(
        libpq_url,
        connect_timeout=connect_timeout,
        application_name=application_name,
        prepare_threshold=None,
        options=options or None,  # None: not sent
    ) as conn:
        return read_server_limits(conn)


# The gunicorn master hands its plan to the workers through the environment.
PLAN_ENV = "STOCKROOM_POOL_PLAN"


def plan_from_environment() -> PoolPlan | None:
    """The plan the gunicorn master computed, if this process is one of its workers."""
    raw = os.environ.get(PLAN_ENV)
    return PoolPlan.from_json(raw) if raw else None


def single_process_plan(
    config: dict, limits: ServerLimits, bouncer: BouncerLimits | None = None
) -> PoolPlan:
    """The plan for a process not started by gunicorn (CLI, tests, flask run)."""
    return plan_for_config(
        config,
        workers=1,
        threads=config["GUNICORN_THREADS"],
        limits=limits,
        bouncer=bouncer,
        source="single-process",
    )
