"""Per-worker monitoring snapshots, written by every gunicorn worker so that any
worker can show the whole deployment. UNLOGGED: fast, and nothing of value is lost
if a crash empties them (workers rewrite them within seconds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, Index, Integer, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model


class WorkerReport(Model):
    """One worker's pool state and counters, refreshed every few seconds."""

    __tablename__ = "db_worker_reports"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    host: Mapped[str] = mapped_column(Text, primary_key=True)
    pid: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(Text)
    # The app instance (INSTANCE_NAME) the worker belongs to.
    instance: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    pool: Mapped[dict[str, Any]] = mapped_column(JSONB)
    counters: Mapped[dict[str, Any]] = mapped_column(JSONB)


class SlowQueryReport(Model):
    """A worker's aggregate for one slow statement shape."""

    __tablename__ = "db_slow_queries"
    __table_args__ = (
        Index("ix_db_slow_queries_fingerprint", "fingerprint"),
        {"prefixes": ["UNLOGGED"]},
    )

    host: Mapped[str] = mapped_column(Text, primary_key=True)
    pid: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(Text, primary_key=True)
    sql: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(BigInteger)
    total_ms: Mapped[float] = mapped_column(Float)
    max_ms: Mapped[float] = mapped_column(Float)
    samples: Mapped[list[float]] = mapped_column(ARRAY(Float))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    # Kept only to re-run EXPLAIN ANALYZE on request; never rendered.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
