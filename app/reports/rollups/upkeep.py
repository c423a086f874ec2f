"""Rollups for the reports: sums over closed history in small tables, kept exact.

How it stays exact (issue 14):

- Triggers on ``orders`` append one ``order_changes`` row per inserted order and
  per change to what an order counts (a cancellation is a -1), in the writing
  transaction itself. A transaction that commits late therefore brings its queue
  rows with it: nothing relies on a timestamp or id watermark that a slow
  transaction could slip under.
- The fold consumes the queue: in one statement it deletes a batch of queued rows
  and adds them to the rollups (app/reports/rollups/fold.sql), so a change is in
  the queue or in the rollups, never both and never neither. Killed midway, the
  transaction rolls back and the next fold takes the same rows again.
- A report reads the rollups plus whatever is still queued, in one REPEATABLE READ
  snapshot: exact for the moment it runs, however long ago the last fold was.
  Whole months come from the month tables, the days at a range's ends from the day
  tables.
- Orders older than the triggers are read by the backfill (``flask rollup
  backfill``), in id order and short batches; until it is through, reports read the
  raw tables and say so.
- Customer sales windows (the last 30, 90, 365 and 1,099 days of each customer,
  with their region) rank top customers from an index. A window counts the folded
  orders from its first day on; the fold adds changes on or after that day, a
  trigger on ``customers`` queues region changes for the fold to apply, and the
  rollup job moves the first day forward daily (``move_windows``), taking out the
  leaving days as the fold counted them. Top customers picks the window closest
  to its range and corrects it exactly from the orders in between and the queues.

One fold or backfill batch runs at a time (the ``rollup_state`` row lock); the order
path never touches a rollup row, so it never waits on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import Flask
from sqlalchemy import Connection, Engine

from app.db.sql import query
from app.db.transactions import DbSession, run_in_transaction
from app.jobs.scheduler import Job
from app.reports.forms import MAX_RANGE_DAYS

QUEUE_BATCH = 20_000  # about 0.3 s of folding on a 2-core machine
BACKFILL_BATCH = 50_000  # orders per backfill transaction (about 1 s)
MAX_BATCHES_PER_FOLD = 50  # a minute's fold stops after a million changes; the next goes on
WINDOW_STEP_ORDERS = 1_000_000  # orders per widening transaction (~10 s at 10M orders here)
JOB_WINDOW_STEP_DAYS = 1  # per minute in the jobs process (a day's orders: well under a second)

Executes = DbSession | Connection


@dataclass(frozen=True)
class FoldResult:
    """What one batch did."""

    queued: int  # queue rows consumed
    folded: int  # changes and backfilled orders added to the rollups
    backfilled_through_id: int
    historic_through_id: int

    @property
    def backfill_done(self) -> bool:
        """Whether every order older than the triggers has been read."""
        return self.backfilled_through_id >= self.historic_through_id


@dataclass(frozen=True)
class Progress:
    """How far the rollups are."""

    historic_through_id: int
    backfilled_through_id: int
    folded_at: datetime | None
    backfilled_at: datetime | None
    queued: int

    @property
    def ready(self) -> bool:
        """Whether reports can read the rollups (the backfill is through)."""
        return self.backfilled_through_id >= self.historic_through_id

    @property
    def percent(self) -> float:
        """The backfill's progress through the older orders (by id)."""
        return backfill_percent(self.backfilled_through_id, self.historic_through_id)


def backfill_percent(backfilled_through_id: int, historic_through_id: int) -> float:
    """How far the backfill is through the older orders, by id, in percent."""
    if historic_through_id <= 0:
        return 100.0
    return min(100.0, 100.0 * backfilled_through_id / historic_through_id)


@dataclass(frozen=True)
class Freshness:
    """What a report's answer is as of, read in its own snapshot."""

    snapshot_at: datetime
    ready: bool
    folded_at: datetime | None
    backfilled_through_id: int | None
    historic_through_id: int | None
    queued: int

    @classmethod
    def read(cls, conn: Executes) -> Freshness:
        """The rollups' state in ``conn``'s snapshot (run it first in the report's
        REPEATABLE READ transaction, so the report sees the same state)."""
        row = conn.execute(query("app.reports.rollups", "freshness.sql")).one()
        return cls(**row._asdict())

    def without_rollups(self) -> Freshness:
        """The same moment, for a report that reads the orders themselves."""
        return Freshness(self.snapshot_at, False, None, None, None, 0)

    def describe(self, lag_seconds: float | None = None) -> str:
        """One sentence for the report's footer: exact as of when, and from what."""
        as_of = self.snapshot_at
        if lag_seconds:
            as_of = as_of - timedelta(seconds=lag_seconds)
        when = f"exact as of {as_of:%Y-%m-%d %H:%M:%S} UTC"
        if lag_seconds:
            when += f" (the replica's {lag_seconds:.1f} s lag)"
        if not self.ready:
            if self.historic_through_id is None:
                return f"{when}, read from the orders"
            done = backfill_percent(self.backfilled_through_id or 0, self.historic_through_id)
            return (
                f"{when}, read from the orders: the rollups' backfill is {done:.0f} % "
                "through (flask rollup backfill)"
            )
        folded = f"{self.folded_at:%H:%M:%S}" if self.folded_at else "never"
        return (
            f"{when}: rollups (last folded {folded}) plus {self.queued:,} "
            f"change{'s' if self.queued != 1 else ''} not folded yet"
        )


def progress(session: Executes) -> Progress:
    """The rollups' state and queue length."""
    row = session.execute(query("app.reports.rollups", "progress.sql")).one()
    return Progress(**row._asdict())


def _lock_state(session: Executes, wait: bool):
    """The rollups' state row, locked for this transaction: one fold, backfill or
    window batch at a time. None when ``wait`` is false and another batch holds it."""
    state_sql = "state.sql" if wait else "state_unless_busy.sql"
    return session.execute(query("app.reports.rollups", state_sql)).first()


def fold_batch(
    session: Executes,
    *,
    queue_limit: int = QUEUE_BATCH,
    backfill_orders: int = 0,
    wait: bool = True,
) -> FoldResult | None:
    """Fold up to ``queue_limit`` queued changes and, backfilling, the next
    ``backfill_orders`` older orders, in the caller's transaction (which must commit
    it). None when another batch holds the state and ``wait`` is false."""
    state = _lock_state(session, wait)
    if state is None:
        return None
    lo, historic = state.backfilled_through_id, state.historic_through_id
    hi = min(lo + backfill_orders, historic) if backfill_orders > 0 and lo < historic else lo
    row = session.execute(
        query("app.reports.rollups", "fold.sql"),
        {"queue_limit": queue_limit, "lo": lo, "hi": hi, "historic": historic},
    ).one()
    session.execute(query("app.reports.rollups", "regions.sql"), {"queue_limit": queue_limit})
    session.execute(query("app.reports.rollups", "mark.sql"), {"backfilled_through": hi})
    return FoldResult(row.queued, row.folded, hi, historic)


def fold_queue(
    session: DbSession, *, max_batches: int = MAX_BATCHES_PER_FOLD, batch: int = QUEUE_BATCH
) -> int:
    """Fold the queue in batches of ``batch`` changes, one transaction each, until it
    is empty, another fold holds the state, or ``max_batches`` ran; the changes
    folded."""
    total = 0
    for _ in range(max_batches):
        result = run_in_transaction(session, lambda s: fold_batch(s, queue_limit=batch, wait=False))
        if result is None:
            break
        total += result.queued
        if result.queued < batch:
            break
    return total


def backfill(
    session: DbSession,
    *,
    batch: int = BACKFILL_BATCH,
    on_batch: Callable[[FoldResult], None] = lambda result: None,
) -> FoldResult | None:
    """Read every older order into the rollups, ``batch`` orders per transaction
    (each also folds a batch of the queue, so it stays short meanwhile). Stopped
    midway, it goes on from the last committed batch. The last batch's result."""
    result = None
    while True:
        result = run_in_transaction(session, lambda s: fold_batch(s, backfill_orders=batch))
        assert result is not None  # waiting for the state always gets it
        on_batch(result)
        if result.backfill_done:
            return result


def utc_today() -> date:
    """Today in UTC, the day the windows' lengths count back from."""
    return datetime.now(UTC).date()


def window_days_apart(session: Executes, today: date | None = None) -> int:
    """How many days the customer sales windows' first days are, in all, from where
    their lengths back from ``today`` put them (0: every window in place)."""
    rows = session.execute(
        query("app.reports.rollups", "windows.sql"), {"today": today or utc_today()}
    ).all()
    return sum(row.days_apart for row in rows)


def window_step_days(session: Executes, orders: int = WINDOW_STEP_ORDERS) -> int:
    """How many days of orders make about ``orders`` orders, at the average day's."""
    per_day = session.execute(query("app.reports.rollups", "orders_per_day.sql")).scalar_one()
    return max(1, min(MAX_RANGE_DAYS + 1, int(orders // max(per_day, 1))))


def move_windows(
    session: Executes,
    *,
    max_days: int,
    today: date | None = None,
    wait: bool = True,
) -> int | None:
    """Move each customer sales window's first day up to ``max_days`` days towards
    its place for ``today``, in the caller's transaction (which must commit it): the
    days still to go, or None while the backfill is not through (a window must not
    count an order the backfill will add again) or, with ``wait`` false, another
    batch holds the state."""
    today = today or utc_today()
    state = _lock_state(session, wait)
    if state is None or state.backfilled_through_id < state.historic_through_id:
        return None
    session.execute(
        query("app.reports.rollups", "windows_move.sql"), {"today": today, "max_days": max_days}
    )
    return window_days_apart(session, today)


def widen_windows(
    session: DbSession,
    *,
    max_days: int | None = None,
    on_step: Callable[[int], None] = lambda days_apart: None,
) -> int | None:
    """Move the windows into place (after the backfill), ``max_days`` days per
    transaction (by default, about ``WINDOW_STEP_ORDERS`` orders' worth): the days
    still to go after each step go to ``on_step``. The days left (0), or None when
    the backfill is not through.

    Steps of many days: a step updates the row of every customer who ordered in its
    days, so short steps would update the same rows again and again."""
    today = utc_today()
    if max_days is None:
        max_days = window_step_days(session)
        session.rollback()
    while True:
        left = run_in_transaction(
            session, lambda s: move_windows(s, today=today, max_days=max_days)
        )
        if left is None:
            return None
        on_step(left)
        if left == 0:
            return 0


def tidy(engine: Engine) -> None:
    """VACUUM and ANALYZE the rollups (outside any transaction, as VACUUM must be)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(query("app.reports.rollups", "vacuum.sql"))


def start_over(session: Executes) -> None:
    """Empty the rollups and the queue and mark every order as the backfill's (in
    the caller's transaction): for ``flask rollup rebuild`` and the seed."""
    session.execute(query("app.reports.rollups", "start_over.sql"))
    session.execute(query("app.reports.rollups", "reset.sql"))


def _fold_job(app: Flask, session: DbSession, period_start: datetime) -> None:
    fold_queue(session, batch=app.config["ROLLUP_FOLD_BATCH"])
    run_in_transaction(
        session, lambda s: move_windows(s, max_days=JOB_WINDOW_STEP_DAYS, wait=False)
    )


# Non-atomic: each batch commits on its own, so a long queue folds in short steps.
ROLLUP_JOB = Job("rollups", lambda app: app.config["ROLLUP_FOLD_SECONDS"], _fold_job, atomic=False)
