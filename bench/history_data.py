"""The console history benchmark: days of one-minute history for many workers,
generated in bulk, then every console page and chart timed on it, and the history
tables' size per day."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import text

from app.db.sql import query
from app.db.transactions import DbSession
from app.history.recorder import fold_hour
from app.jobs.scheduler import claim
from bench.reports import admin_client, time_page

PAGE_RUNS = 5
WINDOWS = ("1h", "6h", "24h", "7d")
FILL_PIECE = timedelta(hours=6)
FIRST_SHAPE = "bbbbbbbbbbbbbbb1"  # history_shapes.sql: lpad(to_hex(1), 16, "b")


@dataclass(frozen=True)
class Shape:
    """How much history: instances x workers, endpoints and statement shapes each."""

    instances: int = 2
    workers: int = 5
    endpoints: int = 8
    shapes: int = 40


def fill_history(
    session: DbSession, app: Flask, start: datetime, end: datetime, shape: Shape = Shape()
) -> int:
    """Write every minute of ``start``..``end`` and fold each closed hour, as the
    workers' sampler and the fold job would have; the hours folded. Flushes only
    (the caller commits)."""
    params = {
        "start": start,
        "end": end,
        "instances": shape.instances,
        "workers": shape.workers,
        "endpoints": shape.endpoints,
        "shapes": shape.shapes,
    }
    # In pieces: each statement stays well inside the CLI's statement timeout.
    piece = start
    while piece < end:
        until = min(piece + FILL_PIECE, end)
        session.execute(
            query("bench", "history_fill.sql"), {**params, "start": piece, "end": until}
        )
        piece = until
    session.execute(query("bench", "history_shapes.sql"), params)
    session.execute(query("bench", "history_events.sql"), params)
    hour = start.replace(minute=0, second=0, microsecond=0)
    folded = 0
    # The fold job's delay: the last closed hour is folded a little after it closed.
    while hour + timedelta(hours=1) <= end - timedelta(minutes=5):
        if claim(session, "history-fold-hour", hour):
            fold_hour(app, session, hour)
            folded += 1
        hour += timedelta(hours=1)
    return folded


def history_sizes(session: DbSession) -> dict[str, int]:
    """Bytes on disk of each history table (with its indexes and TOAST)."""
    rows = session.execute(query("bench", "history_sizes.sql"))
    return {row.name: row.bytes for row in rows}


def console_paths() -> list[str]:
    """The pages timed: the pool and queries pages in every window, a statement page,
    the overview and the dashboard."""
    paths = ["/admin/", "/admin/db/"]
    for window in WINDOWS:
        paths += [
            f"/admin/db/pool/?window={window}",
            f"/admin/db/queries/?window={window}",
            f"/admin/db/queries/{FIRST_SHAPE}?window={window}",
        ]
    return paths


def time_pages(app: Flask, paths: list[str]) -> dict[str, tuple[float, float, int]]:
    """(median ms, max ms, bytes) of each page, after one warm-up request."""
    client = admin_client(app)
    timings = {}
    for path in paths:
        samples, response = time_page(client, path, PAGE_RUNS)
        timings[path] = (statistics.median(samples), max(samples), len(response.data))
    return timings


def vacuum_analyze(app: Flask) -> None:
    """VACUUM ANALYZE the bench database, as autovacuum would have over the days."""
    from app.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
