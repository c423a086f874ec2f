"""/admin/db/regressions/: the statement shapes that got slower after a deploy, ranked.

Each deploy marker (``db_history_events``, kind 'deploy') splits the console's
history into the time before it and the time after it. The after window runs from
the deploy to now, the next deploy or 24 hours, whichever comes first; the before
window has the same length, ending at the deploy (and never reaching back past the
previous deploy). The minute the deploy happened in ran both versions and is left
out of both. Per statement shape, p95 comes from the histograms summed over each
window (app/monitoring/latency_buckets.py), the mean from total time over calls.

A shape is judged only with at least ``min_calls`` calls on each side (a handful of
calls makes any ratio); it is a regression when its p95 or its mean rose by
``REGRESSION_RATIO`` or more. Regressions are ranked by the time they added: the
after window's calls times the rise in mean, the database time this version spent
on the shape beyond what the previous version's speed would have cost. A rare
statement that got 10x slower ranks below a busy one that got 2x slower, because
the busy one costs more.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import abort, current_app, request
from flask_admin import expose

from app.auth.guards import SecureBaseView
from app.charts import seconds_text
from app.db.sql import query
from app.db.transactions import DbSession
from app.extensions import db
from app.inputs import parse_integer
from app.monitoring import latency_buckets
from app.monitoring.statement_text import strip_comments

MAX_SIDE = timedelta(hours=24)
HOUR = timedelta(hours=1)
RECENT_DEPLOYS = 20
DEFAULT_MIN_CALLS = 20
MAX_MIN_CALLS = 1_000_000
# Beyond the histogram's resolution (one bucket, a factor of 1.41) for p95.
REGRESSION_RATIO = 1.5


@dataclass(frozen=True)
class Side:
    """One window of a comparison: [start, end), with whole folded hours in
    [hours_from, hours_to) read from the hourly table."""

    start: datetime
    end: datetime
    hours_from: datetime
    hours_to: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start


@dataclass
class Speed:
    """A shape's executions over one side."""

    calls: int = 0
    total_seconds: float = 0.0
    p95: float | None = None

    @property
    def mean(self) -> float | None:
        return self.total_seconds / self.calls if self.calls else None


@dataclass
class Comparison:
    """One statement shape before and after a deploy."""

    fingerprint: str
    sql: str
    before: Speed
    after: Speed

    @property
    def p95_ratio(self) -> float | None:
        if self.before.p95 and self.after.p95 is not None:
            return self.after.p95 / self.before.p95
        return None

    @property
    def mean_ratio(self) -> float | None:
        if self.before.mean and self.after.mean is not None:
            return self.after.mean / self.before.mean
        return None

    @property
    def added_seconds(self) -> float:
        """The after window's calls times the rise in mean (negative: time saved)."""
        if self.before.mean is None or self.after.mean is None:
            return 0.0
        return self.after.calls * (self.after.mean - self.before.mean)

    def judged(self, min_calls: int) -> bool:
        return self.before.calls >= min_calls and self.after.calls >= min_calls

    def regressed(self) -> bool:
        ratios = [r for r in (self.p95_ratio, self.mean_ratio) if r is not None]
        return self.added_seconds > 0 and any(r >= REGRESSION_RATIO for r in ratios)


def _floor(moment: datetime, step: float) -> datetime:
    return datetime.fromtimestamp(math.floor(moment.timestamp() / step) * step, UTC)


def _ceil(moment: datetime, step: float) -> datetime:
    return datetime.fromtimestamp(math.ceil(moment.timestamp() / step) * step, UTC)


def _side(start: datetime, end: datetime, folded: datetime | None) -> Side:
    """``[start, end)`` with the whole hours inside it that the fold has reached."""
    # A side shorter than its first whole hour reads minutes only: [end, end).
    hours_from = min(_ceil(start, 3600), end)
    hours_to = hours_from
    if folded is not None:
        hours_to = max(min(_floor(end, 3600), folded + HOUR), hours_from)
    return Side(start, end, hours_from, hours_to)


def sides(
    deploy, *, bucket_seconds: float, folded: datetime | None, now: datetime
) -> tuple[Side, Side] | None:
    """The before and after windows of ``deploy`` (a row of regression_deploys.sql),
    or None while nothing whole has been recorded since it."""
    after_start = _ceil(deploy.at, bucket_seconds)
    before_end = _floor(deploy.at, bucket_seconds)
    after_end = min(after_start + MAX_SIDE, _floor(now, bucket_seconds))
    if deploy.next_at is not None:
        after_end = min(after_end, _floor(deploy.next_at, bucket_seconds))
    if after_end <= after_start:
        return None
    before_start = before_end - (after_end - after_start)
    if deploy.previous_at is not None:
        before_start = max(before_start, _ceil(deploy.previous_at, bucket_seconds))
    before_start = min(before_start, before_end)
    return _side(before_start, before_end, folded), _side(after_start, after_end, folded)


def recent_deploys(session: DbSession, limit: int = RECENT_DEPLOYS):
    """The latest deploys, newest first, with their neighbours' times."""
    return session.execute(query("app.workload", "regression_deploys.sql"), {"limit": limit}).all()


def compare(session: DbSession, before: Side, after: Side) -> list[Comparison]:
    """Every statement shape seen in either window, before against after."""
    params: dict[str, object] = {}
    for name, side in (("before", before), ("after", after)):
        params |= {
            f"{name}_start": side.start,
            f"{name}_end": side.end,
            f"{name}_hours_from": side.hours_from,
            f"{name}_hours_to": side.hours_to,
        }
    speeds: dict[str, dict[str, Speed]] = defaultdict(dict)
    texts: dict[str, str] = {}
    for row in session.execute(query("app.workload", "regression_sides.sql"), params):
        counts = latency_buckets.dense(row.latency_counts)
        speeds[row.fingerprint][row.side] = Speed(
            calls=row.calls,
            total_seconds=row.total_seconds,
            p95=latency_buckets.percentile(counts, 0.95, row.max_seconds or None),
        )
        texts[row.fingerprint] = row.sql or ""
    return [
        Comparison(fp, texts[fp], by_side.get("before", Speed()), by_side.get("after", Speed()))
        for fp, by_side in speeds.items()
    ]


def regressions_page(
    session: DbSession,
    *,
    deploy_id: int | None,
    min_calls: int,
    bucket_seconds: float,
    now: datetime | None = None,
) -> dict:
    """Everything the page shows; LookupError when ``deploy_id`` is no recent deploy."""
    deploys = recent_deploys(session)
    if deploy_id is None:
        deploy = deploys[0] if deploys else None
    else:
        deploy = next((d for d in deploys if d.id == deploy_id), None)
        if deploy is None:
            raise LookupError(deploy_id)
    page: dict = {
        "deploys": deploys,
        "deploy": deploy,
        "min_calls": min_calls,
        "threshold": REGRESSION_RATIO,
        "windows": None,
        "regressions": [],
        "too_few": 0,
        "new": 0,
    }
    if deploy is None:
        return page
    folded = session.execute(query("app.history", "history_watermark.sql")).scalar()
    windows = sides(
        deploy, bucket_seconds=bucket_seconds, folded=folded, now=now or datetime.now(UTC)
    )
    if windows is None:
        return page
    comparisons = compare(session, *windows)
    judged = [c for c in comparisons if c.judged(min_calls)]
    page.update(
        windows=windows,
        regressions=sorted(
            (c for c in judged if c.regressed()), key=lambda c: c.added_seconds, reverse=True
        ),
        too_few=sum(1 for c in comparisons if c.before.calls and not c.judged(min_calls)),
        new=sum(1 for c in comparisons if not c.before.calls),
    )
    return page


def preview(sql: str, length: int = 120) -> str:
    """A statement's first characters on one line, without its comments."""
    text = " ".join(strip_comments(sql).split())
    return text if len(text) <= length else text[: length - 1] + "…"


def added_text(seconds: float) -> str:
    """Added time: grouped whole seconds from 100 s up ("4,690 s", not "4.69e+03 s")."""
    return f"{seconds:,.0f} s" if abs(seconds) >= 100 else seconds_text(seconds)


def _int_arg(name: str, low: int, high: int) -> int | None:
    """A whole-number query argument in [low, high], None when absent; 400 otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = parse_integer(raw)
    except ValueError:
        abort(400, f"{name} must be a whole number.")
    if not low <= value <= high:
        abort(400, f"{name} must be between {low:,} and {high:,}.")
    return value


class RegressionsView(SecureBaseView):
    """Statement shapes that got slower after a deploy."""

    @expose("/")
    def index(self):
        deploy_id = _int_arg("deploy", 1, 2**63 - 1)
        min_calls = _int_arg("min_calls", 1, MAX_MIN_CALLS) or DEFAULT_MIN_CALLS
        try:
            page = regressions_page(
                db.session,
                deploy_id=deploy_id,
                min_calls=min_calls,
                bucket_seconds=current_app.config["DB_HISTORY_INTERVAL_SECONDS"],
            )
        except LookupError:
            abort(404, "No such deploy among the recent ones.")
        return self.render(
            "admin/db/regressions.html",
            duration=seconds_text,
            added=added_text,
            preview=preview,
            **page,
        )
