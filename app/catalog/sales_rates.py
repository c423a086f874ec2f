"""The ``sales-rates`` job: each product's units sold per day over the last
``SALES_RATE_DAYS`` days, recomputed once an hour by whichever worker claims the
hour (app/jobs/scheduler.py), so pages that need "how fast does it sell" (the admin
dashboard's "about to run out") read a small table instead of a month of orders."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask

from app.db.sql import query
from app.db.transactions import DbSession
from app.jobs.scheduler import Job

SALES_RATE_DAYS = 30  # the stock-cover report's default window
REFRESH_SECONDS = 3600
REFRESH_TIMEOUT = "120s"  # 5 s at 10M orders on a 2-core machine


def refresh_sales_rates(app: Flask, session: DbSession, period_start: datetime) -> None:
    """Replace the rates with those of the ``SALES_RATE_DAYS`` days up to now (whole
    days in UTC, as the stock-cover report counts them); one transaction, so readers
    see the old rates or the new ones, never none."""
    closed = period_start + timedelta(seconds=REFRESH_SECONDS)
    since = closed.date() - timedelta(days=SALES_RATE_DAYS - 1)
    session.execute(query("app.catalog", "sales_rates_timeout.sql"), {"timeout": REFRESH_TIMEOUT})
    session.execute(query("app.catalog", "sales_rates_clear.sql"))
    session.execute(
        query("app.catalog", "sales_rates_refresh.sql"),
        {"since": since, "days": SALES_RATE_DAYS},
    )


SALES_RATES_JOB = Job("sales-rates", lambda app: REFRESH_SECONDS, refresh_sales_rates)
