"""Reading the console's history (app/history/recorder.py writes it) for the charts:
a window (1 h, 6 h, 24 h or 7 d) at a resolution of a few hundred points at most,
series per time bin, totals per endpoint and statement shape, and the deploy and
migration markers.

Short windows read the per-minute tables. Long ones read the hourly folds for every
whole hour folded so far and the minutes for the rest, so a 7-day chart reads a
few hundred rows per series, not ten thousand.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app import charts
from app.db.sql import query
from app.db.transactions import DbSession
from app.monitoring import latency_buckets

# name: (length, resolution)
WINDOWS = {
    "1h": (timedelta(hours=1), timedelta(minutes=1)),
    "6h": (timedelta(hours=6), timedelta(minutes=2)),
    "24h": (timedelta(hours=24), timedelta(minutes=5)),
    "7d": (timedelta(days=7), timedelta(hours=1)),
}
DEFAULT_WINDOW = "1h"
ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)  # bins align to whole steps (a Monday, 00:00)
HOUR = timedelta(hours=1)


def _describe(step: timedelta) -> str:
    minutes = int(step.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return "minute" if minutes == 1 else f"{minutes} minutes"


@dataclass(frozen=True)
class Window:
    """The time range a page shows, its resolution, and where hourly folds apply."""

    name: str
    start: datetime
    end: datetime
    step: timedelta
    hours_from: datetime
    hours_to: datetime
    times: list[datetime] = field(default_factory=list)
    # Where totals (tables, histograms: no resolution to keep) may read hourly folds.
    total_hours_from: datetime | None = None
    total_hours_to: datetime | None = None

    @property
    def resolution(self) -> str:
        """One point per ..."""
        return _describe(self.step)

    def params(self, **extra: object) -> dict:
        """The bound parameters every history query over time bins takes."""
        return {
            "start": self.start,
            "end": self.end,
            "step": self.step,
            "origin": ORIGIN,
            "hours_from": self.hours_from,
            "hours_to": self.hours_to,
            **extra,
        }

    def total_params(self, **extra: object) -> dict:
        """The same for totals over the whole window: every folded hour from the
        hourly tables whatever the resolution (a day of minutes is 60 times the rows)."""
        params = self.params(**extra)
        if self.total_hours_from is not None:
            params.update(hours_from=self.total_hours_from, hours_to=self.total_hours_to)
        return params


def window(session: DbSession, name: str | None, now: datetime | None = None) -> Window:
    """The window called ``name`` (unknown names get the default) ending now."""
    name = name if name in WINDOWS else DEFAULT_WINDOW
    length, step = WINDOWS[name]
    now = now or datetime.now(UTC)
    seconds = step.total_seconds()
    end = datetime.fromtimestamp(math.ceil(now.timestamp() / seconds) * seconds, UTC)
    start = end - length
    hours_from = hours_to = start  # minutes only
    total_from = total_to = None
    if length > HOUR:
        folded = session.execute(query("app.history", "history_watermark.sql")).scalar()
        if folded is not None:
            total_from = datetime.fromtimestamp(math.ceil(start.timestamp() / 3600) * 3600, UTC)
            total_to = max(min(folded + HOUR, end), total_from)
            if step >= HOUR:  # series at hourly resolution read the folds too
                hours_from, hours_to = total_from, total_to
    times = charts.window_times(start, end - step, step)
    return Window(name, start, end, step, hours_from, hours_to, times, total_from, total_to)


def markers(session: DbSession, shown: Window) -> list[charts.Marker]:
    """Deploys and migrations inside the window."""
    rows = session.execute(query("app.history", "history_events.sql"), shown.params())
    return [charts.Marker(row.at, row.kind, row.label) for row in rows]


@dataclass
class Totals:
    """Requests or executions added up over some rows, with their merged histogram."""

    count: int = 0
    counts: list[int] = field(default_factory=list)
    seconds: float = 0.0
    maximum: float = 0.0
    db_seconds: float = 0.0
    queries: int = 0
    errors: int = 0

    def percentile(self, fraction: float) -> float | None:
        """A latency percentile in seconds (None without data)."""
        return latency_buckets.percentile(self.counts, fraction, self.maximum or None)

    @property
    def mean(self) -> float | None:
        return self.seconds / self.count if self.count and self.seconds else None


def endpoint_series(session: DbSession, shown: Window, endpoint: str = "*") -> dict:
    """Requests/s, p95 latency and database time per request of one endpoint ("*":
    all), one value per time point (None where nothing was recorded)."""
    bins: dict[datetime, Totals] = defaultdict(Totals)
    rows = session.execute(
        query("app.history", "history_endpoint_rows.sql"), shown.params(endpoint=endpoint)
    )
    for row in rows:
        totals = bins[row.bin]
        totals.count += row.requests
        totals.errors += row.errors_4xx + row.errors_5xx
        latency_buckets.add_into(totals.counts, latency_buckets.dense(row.latency_counts))
        totals.maximum = max(totals.maximum, row.latency_max)
        totals.db_seconds += row.db_seconds
        totals.queries += row.queries
    seconds = shown.step.total_seconds()
    points = [bins.get(t) for t in shown.times]
    return {
        "requests": [t.count / seconds if t else 0.0 for t in points],
        "errors": [t.errors / seconds if t else 0.0 for t in points],
        "p95": [t.percentile(0.95) if t and t.count else None for t in points],
        "db_per_request": [t.db_seconds / t.count if t and t.count else None for t in points],
        "queries_per_request": [t.queries / t.count if t and t.count else None for t in points],
        "total": sum((t.count for t in points if t), 0),
    }


def endpoints(session: DbSession, shown: Window) -> list[dict]:
    """Every endpoint over the window, busiest first."""
    rows = session.execute(
        query("app.history", "history_endpoints_window.sql"), shown.total_params()
    )
    result = []
    for row in rows:
        totals = Totals(
            count=row.requests,
            counts=latency_buckets.dense(row.latency_counts),
            maximum=row.latency_max,
            db_seconds=row.db_seconds,
            queries=row.queries,
            errors=row.errors_4xx + row.errors_5xx,
        )
        result.append(
            {
                "endpoint": row.endpoint,
                "requests": row.requests,
                "errors_4xx": row.errors_4xx,
                "errors_5xx": row.errors_5xx,
                "p50": totals.percentile(0.5),
                "p95": totals.percentile(0.95),
                "max": row.latency_max,
                "db_per_request": row.db_seconds / row.requests if row.requests else None,
                "queries_per_request": row.queries / row.requests if row.requests else None,
            }
        )
    return result


STATEMENT_SORTS = {
    "total": lambda s: s["total_seconds"],
    "mean": lambda s: s["mean"] or 0,
    "p95": lambda s: s["p95"] or 0,
    "calls": lambda s: s["calls"],
}


def statements(
    session: DbSession,
    shown: Window,
    *,
    endpoint: str | None = None,
    sort: str = "total",
    limit: int = 200,
) -> list[dict]:
    """Statement shapes over the window (optionally only those ``endpoint`` ran),
    sorted by total time, mean, p95 or calls, largest first."""
    rows = session.execute(
        query("app.history", "history_statements_window.sql"),
        shown.total_params(endpoint=endpoint, limit=limit),
    )
    result = []
    for row in rows:
        counts = latency_buckets.dense(row.latency_counts)
        result.append(
            {
                "fingerprint": row.fingerprint,
                "sql": row.sql or "",
                "calls": row.calls,
                "total_seconds": row.total_seconds,
                "mean": row.total_seconds / row.calls if row.calls else None,
                "p95": latency_buckets.percentile(counts, 0.95, row.max_seconds or None),
                "max": row.max_seconds,
                "endpoints": row.endpoints or [],
            }
        )
    key = STATEMENT_SORTS.get(sort, STATEMENT_SORTS["total"])
    return sorted(result, key=key, reverse=True)


def statement_series(session: DbSession, shown: Window, fingerprints: list[str]) -> dict:
    """Per fingerprint: calls/s, mean and p95 (seconds) per time point."""
    bins: dict[str, dict[datetime, Totals]] = {fp: defaultdict(Totals) for fp in fingerprints}
    rows = session.execute(
        query("app.history", "history_statement_rows.sql"),
        shown.params(fingerprints=fingerprints),
    )
    for row in rows:
        totals = bins[row.fingerprint][row.bin]
        totals.count += row.calls
        totals.seconds += row.total_seconds
        totals.maximum = max(totals.maximum, row.max_seconds)
        latency_buckets.add_into(totals.counts, latency_buckets.dense(row.latency_counts))
    seconds = shown.step.total_seconds()
    series = {}
    for fingerprint, by_bin in bins.items():
        points = [by_bin.get(t) for t in shown.times]
        series[fingerprint] = {
            "calls": [t.count / seconds if t else 0.0 for t in points],
            "mean": [t.mean if t else None for t in points],
            "p95": [t.percentile(0.95) if t and t.count else None for t in points],
            "total": sum((t.count for t in points if t), 0),
        }
    return series


def statement_totals(session: DbSession, shown: Window, fingerprint: str) -> Totals:
    """One statement shape's calls, time and histogram over the whole window."""
    totals = Totals()
    for row in session.execute(
        query("app.history", "history_statement_rows.sql"),
        shown.total_params(fingerprints=[fingerprint]),
    ):
        totals.count += row.calls
        totals.seconds += row.total_seconds
        totals.maximum = max(totals.maximum, row.max_seconds)
        latency_buckets.add_into(totals.counts, latency_buckets.dense(row.latency_counts))
    return totals


def pool_series(session: DbSession, shown: Window) -> dict:
    """Per instance: capacity (pool_size + max_overflow, all workers), most checked
    out, mean checked out, waits and timeouts per time point; the window's
    acquire-wait and hold-time histograms."""
    instances: dict[str, dict[datetime, Any]] = defaultdict(dict)
    for row in session.execute(query("app.history", "history_pool_series.sql"), shown.params()):
        instances[row.instance][row.bin] = row
    series = {}
    for instance, by_bin in sorted(instances.items()):
        points = [by_bin.get(t) for t in shown.times]
        series[instance] = {
            "capacity": [p.capacity if p else None for p in points],
            "peak": [p.peak if p else None for p in points],
            "mean": [p.mean if p else None for p in points],
            "waits": [p.waits if p else 0 for p in points],
            "timeouts": [p.timeouts if p else 0 for p in points],
            "connects": sum(p.connects for p in points if p),
            "invalidations": sum(p.invalidations for p in points if p),
        }
    row = session.execute(
        query("app.history", "history_pool_histograms.sql"), shown.total_params()
    ).one()
    histograms = {
        "wait": latency_buckets.dense(row.wait_counts),
        "hold": latency_buckets.dense(row.hold_counts),
    }
    return {"instances": series, "histograms": histograms}


def connection_series(session: DbSession, shown: Window) -> dict[str, list[float | None]]:
    """The server's connections by state per time point."""
    by_state: dict[str, dict[datetime, int]] = defaultdict(dict)
    for row in session.execute(
        query("app.history", "history_connections_series.sql"), shown.params()
    ):
        by_state[row.state][row.bin] = row.connections
    return {
        state: [float(values[t]) if t in values else None for t in shown.times]
        for state, values in sorted(by_state.items())
    }


def server_statement_series(session: DbSession, shown: Window, queryids: list[int]) -> dict:
    """pg_stat_statements' calls/s and mean time (ms) per time point for ``queryids``."""
    rows = {
        row.bin: row
        for row in session.execute(
            query("app.history", "history_server_statement_series.sql"),
            shown.params(queryids=queryids),
        )
    }
    seconds = shown.step.total_seconds()
    points = [rows.get(t) for t in shown.times]
    return {
        "calls": [p.calls / seconds if p else 0.0 for p in points],
        "mean": [p.total_ms / p.calls / 1000 if p and p.calls else None for p in points],
        "total": sum((p.calls for p in points if p), 0),
    }


# The load chart's wait classes in a fixed order (the rest after them, by name), so
# a class keeps its colour from page to page.
WAIT_CLASSES = ("CPU", "Lock", "LWLock", "IO", "IPC", "Client", "Timeout", "BufferPin", "Activity")


def load_series(session: DbSession, shown: Window) -> dict[str, list[float | None]]:
    """Average active sessions per time point, by wait class (None: not sampled)."""
    sampled: set[datetime] = set()
    by_class: dict[str, dict[datetime, float]] = defaultdict(dict)
    for row in session.execute(query("app.history", "load_series.sql"), shown.params()):
        sampled.add(row.bin)
        if row.wait_class is not None:
            by_class[row.wait_class][row.bin] = row.sessions
    order = [c for c in WAIT_CLASSES if c in by_class] + sorted(set(by_class) - set(WAIT_CLASSES))
    return {
        wait: [by_class[wait].get(t, 0.0) if t in sampled else None for t in shown.times]
        for wait in order
    }


def load_top(session: DbSession, shown: Window, by: str, limit: int = 10) -> list[Any]:
    """The window's load by statement shape or by route (``by``), largest first:
    average active sessions over the window and their split by wait class."""
    return list(
        session.execute(
            query("app.history", "load_top.sql"), shown.params(by=by, limit=limit)
        ).all()
    )
