"""The history's tables: per-minute aggregates (app/history/recorder.py writes
them), folded into hourly ones, ordinary (logged) tables kept DB_HISTORY_DAYS."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db.columns import BigIntPk
from app.extensions import Model


class PoolMinute(Model):
    """One worker's pool over one minute."""

    __tablename__ = "db_history_pool"

    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    instance: Mapped[str] = mapped_column(Text, primary_key=True)
    pid: Mapped[int] = mapped_column(Integer, primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)  # pool_size + max_overflow
    checked_out_max: Mapped[int] = mapped_column(Integer)
    checked_out_mean: Mapped[float] = mapped_column(Float)
    waits: Mapped[int] = mapped_column(Integer)
    wait_seconds: Mapped[float] = mapped_column(Float)
    timeouts: Mapped[int] = mapped_column(Integer)
    connects: Mapped[int] = mapped_column(Integer)
    invalidations: Mapped[int] = mapped_column(Integer)
    # Acquire waits and checkout-to-checkin times (app/monitoring/latency_buckets.py).
    wait_counts: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    hold_counts: Mapped[list[int]] = mapped_column(ARRAY(Integer))


class PoolHour(Model):
    """An instance's pool over one hour (its workers added; folded from the minutes):
    capacity and checked out are the largest per-minute sums, the mean their mean."""

    __tablename__ = "db_history_pool_hourly"

    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    instance: Mapped[str] = mapped_column(Text, primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    checked_out_max: Mapped[int] = mapped_column(Integer)
    checked_out_mean: Mapped[float] = mapped_column(Float)
    waits: Mapped[int] = mapped_column(Integer)
    wait_seconds: Mapped[float] = mapped_column(Float)
    timeouts: Mapped[int] = mapped_column(Integer)
    connects: Mapped[int] = mapped_column(Integer)
    invalidations: Mapped[int] = mapped_column(Integer)
    wait_counts: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    hold_counts: Mapped[list[int]] = mapped_column(ARRAY(Integer))


class _EndpointColumns:
    """Requests of one endpoint on one instance over one bucket, its workers added."""

    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    instance: Mapped[str] = mapped_column(Text, primary_key=True)
    endpoint: Mapped[str] = mapped_column(Text, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)
    errors_4xx: Mapped[int] = mapped_column(Integer)
    errors_5xx: Mapped[int] = mapped_column(Integer)
    latency_counts: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    latency_max: Mapped[float] = mapped_column(Float)
    db_seconds: Mapped[float] = mapped_column(Float)
    queries: Mapped[int] = mapped_column(Integer)


class EndpointMinute(_EndpointColumns, Model):
    """Per minute; the endpoint "*" is every endpoint of the instance together."""

    __tablename__ = "db_history_endpoints"


class EndpointHour(_EndpointColumns, Model):
    """The same per hour, folded from the minutes once the hour has closed (long
    windows read these)."""

    __tablename__ = "db_history_endpoints_hourly"


class _StatementColumns:
    """Executions of one statement shape on one instance over one bucket."""

    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    instance: Mapped[str] = mapped_column(Text, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(Text, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)
    latency_counts: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    total_seconds: Mapped[float] = mapped_column(Float)
    max_seconds: Mapped[float] = mapped_column(Float)


class StatementMinute(_StatementColumns, Model):
    """Per minute."""

    __tablename__ = "db_history_statements"
    __table_args__ = (Index("ix_db_history_statements_fingerprint", "fingerprint", "bucket"),)


class StatementHour(_StatementColumns, Model):
    """Per hour, folded from the minutes."""

    __tablename__ = "db_history_statements_hourly"
    __table_args__ = (
        Index("ix_db_history_statements_hourly_fingerprint", "fingerprint", "bucket"),
    )


class StatementShape(Model):
    """A statement shape the app ran: its normalised text, where it was seen, and
    the server's queryid for it (matched by EXPLAIN's Query Identifier)."""

    __tablename__ = "db_statements"

    fingerprint: Mapped[str] = mapped_column(Text, primary_key=True)
    sql: Mapped[str] = mapped_column(Text)
    # pg_stat_statements' queryids of this shape (one per combination of parameter
    # types the driver sent), matched by text; None until first looked up.
    queryids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    # The last plan an operator asked for (EXPLAIN), kept to show on the statement page.
    last_plan: Mapped[str | None] = mapped_column(Text)
    last_plan_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StatementSource(Model):
    """An endpoint and code location that ran a statement shape."""

    __tablename__ = "db_statement_sources"

    fingerprint: Mapped[str] = mapped_column(Text, primary_key=True)
    endpoint: Mapped[str] = mapped_column(Text, primary_key=True)
    location: Mapped[str] = mapped_column(Text, primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ServerStatementMinute(Model):
    """pg_stat_statements' change over one minute, for the top statements."""

    __tablename__ = "db_history_server_statements"
    __table_args__ = (Index("ix_db_history_server_statements_queryid", "queryid", "bucket"),)

    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    queryid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)
    total_ms: Mapped[float] = mapped_column(Float)
    rows: Mapped[int] = mapped_column(BigInteger)
    shared_blks_hit: Mapped[int] = mapped_column(BigInteger)
    shared_blks_read: Mapped[int] = mapped_column(BigInteger)


class ServerStatementSnapshot(Model):
    """pg_stat_statements' cumulative numbers at the last sample (to take differences)."""

    __tablename__ = "db_server_statement_snapshot"

    # The server's queryid, not a generated key.
    queryid: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    calls: Mapped[int] = mapped_column(BigInteger)
    total_ms: Mapped[float] = mapped_column(Float)
    rows: Mapped[int] = mapped_column(BigInteger)
    shared_blks_hit: Mapped[int] = mapped_column(BigInteger)
    shared_blks_read: Mapped[int] = mapped_column(BigInteger)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConnectionsMinute(Model):
    """The server's connections to this database by state, sampled once a minute."""

    __tablename__ = "db_history_connections"

    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    state: Mapped[str] = mapped_column(Text, primary_key=True)
    connections: Mapped[int] = mapped_column(Integer)


class HistoryEvent(Model):
    """A deploy (a new app version first reported by a worker) or a migration applied:
    marked on every chart."""

    __tablename__ = "db_history_events"
    __table_args__ = (
        # A version is deployed once; a migration may be applied, undone and reapplied.
        Index(
            "uq_db_history_events_deploy",
            "label",
            unique=True,
            postgresql_where=text("kind = 'deploy'"),
        ),
        Index("ix_db_history_events_at", "at"),
    )

    id: Mapped[BigIntPk]
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    kind: Mapped[str] = mapped_column(Text)  # deploy, migration
    label: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)


class HistoryHour(Model):
    """One hour of history: how many minute buckets were written into it, and how
    many of them its hourly fold had seen (fewer: fold it again)."""

    __tablename__ = "db_history_hours"

    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    writes: Mapped[int] = mapped_column(BigInteger)
    folded_writes: Mapped[int | None] = mapped_column(BigInteger)


class LoadMinute(Model):
    """Database load over one minute (app/history/load.py samples it every second):
    how many sampled active sessions waited on each wait event (``CPU``: none),
    for each route and statement shape. Average active sessions = ``sessions`` over
    the minute's ``LoadSamples.samples``."""

    __tablename__ = "db_history_load"

    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    wait_class: Mapped[str] = mapped_column(Text, primary_key=True)
    wait_event: Mapped[str] = mapped_column(Text, primary_key=True)
    route: Mapped[str] = mapped_column(Text, primary_key=True)
    statement_key: Mapped[str] = mapped_column(Text, primary_key=True)
    # The statement's comparable form (constants as ?), cut to LOAD_STATEMENT_CHARS.
    statement: Mapped[str] = mapped_column(Text)
    sessions: Mapped[int] = mapped_column(Integer)


class LoadSamples(Model):
    """How many one-second samples of the load were taken in a minute."""

    __tablename__ = "db_history_load_samples"

    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
