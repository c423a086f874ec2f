"""The jobs' claims: one row per job and period (app/jobs/scheduler.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model


class JobRun(Model):
    """One periodic job's claim of one period: the first worker to insert it runs it."""

    __tablename__ = "db_job_runs"

    job: Mapped[str] = mapped_column(Text, primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    claimed_by: Mapped[str] = mapped_column(Text)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
