"""The jobs' claims: one row per job and period (app/jobs/scheduler.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model


class JobRun(Model):
    """One periodic job's claim of one period (the first process to insert it runs
    it), and how that run ended."""

    __tablename__ = "db_job_runs"

    job: Mapped[str] = mapped_column(Text, primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    claimed_by: Mapped[str] = mapped_column(Text)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set when the run ended; NULL while it runs (or if its process died).
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(Text)  # success or failure
    seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
