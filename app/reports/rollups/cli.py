"""``flask rollup``: the reports' rollups from the command line (status, fold,
backfill, rebuild). The backfill and rebuild run here, never in the web workers:
they read every older order, in short batches on a direct connection."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from flask.cli import with_appcontext
from psycopg import errors
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from app.db.engine import connection_role, direct_engine
from app.db.errors import first_line
from app.reports.rollups import upkeep


def _describe(progress: upkeep.Progress, window_days_apart: int) -> str:
    state = (
        "ready: reports read the rollups"
        if progress.ready
        else f"backfilling: {progress.percent:.1f} % of the older orders read; "
        "reports read the raw tables meanwhile"
    )
    folded = f"{progress.folded_at:%Y-%m-%d %H:%M:%S} UTC" if progress.folded_at else "never"
    return (
        f"{state}\nlast fold: {folded}\nqueued changes: {progress.queued:,}\n"
        f"older orders (ids up to {progress.historic_through_id:,}) read through id "
        f"{progress.backfilled_through_id:,}\n"
        + (
            "customer windows: in place"
            if not window_days_apart
            else f"customer windows: {window_days_apart:,} days from their place "
            "(flask rollup backfill moves them into place)"
        )
    )


@contextmanager
def _progress_bar(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields the function that moves it to a position
    (0 to ``length``)."""
    with click.progressbar(
        length=length, label=label, width=30, show_pos=True, file=sys.stderr
    ) as bar:
        shown = 0

        def reach(position: int) -> None:
            nonlocal shown
            bar.update(position - shown)
            shown = position

        yield reach


def run_backfill(session: Session, batch: int) -> upkeep.FoldResult | None:
    """Backfill with a progress bar on stderr (by older orders read), then move the
    customer sales windows into place (by days)."""
    start = upkeep.progress(session)
    session.rollback()
    total = max(start.historic_through_id - start.backfilled_through_id, 0)
    started = time.perf_counter()
    with _progress_bar(total, "backfilling rollups") as reach:
        result = upkeep.backfill(
            session,
            batch=batch,
            on_batch=lambda r: reach(r.backfilled_through_id - start.backfilled_through_id),
        )
    elapsed = time.perf_counter() - started
    click.echo(f"backfilled {total:,} older orders in {elapsed:.1f} s", err=True)
    days = widen_windows(session)
    if total or days:
        upkeep.tidy(direct_engine())
    return result


def widen_windows(session: Session) -> int:
    """Move the customer sales windows into place with a progress bar on stderr (by
    days); the days they moved."""
    apart = upkeep.window_days_apart(session)
    session.rollback()
    if not apart:
        return 0
    started = time.perf_counter()
    with _progress_bar(apart, "customer windows") as reach:
        upkeep.widen_windows(session, on_step=lambda days_apart: reach(apart - days_apart))
    elapsed = time.perf_counter() - started
    click.echo(f"moved the customer windows {apart:,} days in {elapsed:.1f} s", err=True)
    return apart


@contextmanager
def rollup_session() -> Iterator[Session]:
    """A session on the direct connection, named ``rollup``; a database without the
    rollups' tables (not migrated yet) is a clear error, not a traceback."""
    with connection_role("rollup"), Session(direct_engine()) as session:
        try:
            yield session
        except ProgrammingError as error:
            if not isinstance(error.orig, errors.UndefinedTable):
                raise
            raise click.ClickException(f"{first_line(error)}: run flask db upgrade first") from None


batch_option = click.option(
    "--batch",
    type=click.IntRange(100, 1_000_000),
    default=upkeep.BACKFILL_BATCH,
    show_default=True,
    help="Older orders per transaction.",
)


@click.group("rollup")
def rollup() -> None:
    """The reports' rollups: status, fold, backfill, rebuild."""


@rollup.command("status")
@with_appcontext
def status() -> None:
    """Show whether reports read the rollups, the backfill's progress and the queue."""
    with rollup_session() as session:
        click.echo(_describe(upkeep.progress(session), upkeep.window_days_apart(session)))


@rollup.command("fold")
@with_appcontext
def fold() -> None:
    """Fold the queued order changes now (the workers do it every minute)."""
    with rollup_session() as session:
        folded = upkeep.fold_queue(session, max_batches=1_000_000)
        click.echo(f"folded {folded:,} changes")


@rollup.command("backfill")
@batch_option
@with_appcontext
def backfill(batch: int) -> None:
    """Read the orders older than the rollups into them, in short transactions.
    Safe under load; stopped, it goes on from where it was when run again."""
    with rollup_session() as session:
        run_backfill(session, batch)
        click.echo(_describe(upkeep.progress(session), upkeep.window_days_apart(session)))


@rollup.command("rebuild")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@batch_option
@with_appcontext
def rebuild(yes: bool, batch: int) -> None:
    """Empty the rollups and build them again from the orders (reports read the raw
    tables until it is done)."""
    if not yes:
        click.confirm("Empty the rollups and rebuild them from every order?", abort=True)
    with rollup_session() as session:
        upkeep.start_over(session)
        session.commit()
        run_backfill(session, batch)
        click.echo(_describe(upkeep.progress(session), upkeep.window_days_apart(session)))
